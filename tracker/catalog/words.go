package catalog

import (
	"strings"
	"unicode"
)

// Query limits shared by every backend, so that the same query means the
// same thing whichever backend serves it.
const (
	MaxQueryWords    = 16 // words after the 16th are ignored
	MaxQueryWordRune = 64 // a longer word is cut to its first 64 runes
)

// QueryWords splits a search query into the words a backend matches, each
// as a prefix of a word of title, artist or album. A word is a run of
// Unicode letters, digits and combining marks; everything else (quotes,
// operators, punctuation) only separates words, so user input can never be
// query syntax in any backend.
func QueryWords(query string) []string {
	fields := strings.FieldsFunc(query, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
	words := fields[:0]
	for _, w := range fields {
		// A word of combining marks only folds to nothing.
		if strings.IndexFunc(w, func(r rune) bool { return !unicode.IsMark(r) }) < 0 {
			continue
		}
		if len(w) > MaxQueryWordRune {
			n := 0
			for j := range w {
				if n == MaxQueryWordRune {
					w = w[:j]
					break
				}
				n++
			}
		}
		words = append(words, w)
		if len(words) == MaxQueryWords {
			break
		}
	}
	return words
}
