package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Limits of a tokens file.
const (
	MaxFileSize = 1 << 20 // bytes
	MaxNameLen  = 64
	MaxTokenLen = 1024
)

// Entry is one publisher or admin: a name and its bearer token. Where says
// where it was given ("line 3 of /etc/peertune/tokens", "--token 2"), for
// messages that must not show the token.
type Entry struct {
	Name  string
	Token string
	Where string
}

// Parse reads a tokens file: one "name token" per line, separated by
// spaces or tabs; blank lines and lines starting with # are skipped. Names
// are 1 to MaxNameLen of A-Z a-z 0-9 . _ - (but not 64 hex digits, which
// is how the catalog stored publishers before they had names); tokens are
// visible ASCII (what an Authorization header carries), at most
// MaxTokenLen bytes. Names and tokens are unique within the file. Errors
// give line numbers, never a token.
func Parse(data []byte) ([]Entry, error) {
	var entries []Entry
	names := map[string]int{}
	tokens := map[string]int{}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want two fields, a name and a token, separated by white space; found %d", n, len(fields))
		}
		name, token := fields[0], fields[1]
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if err := checkToken(token); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first, ok := names[name]; ok {
			return nil, fmt.Errorf("line %d: the name %q is on line %d already; names must be unique", n, name, first)
		}
		if first, ok := tokens[token]; ok {
			return nil, fmt.Errorf("line %d: the token is line %d's already; tokens must be unique", n, first)
		}
		names[name], tokens[token] = n, n
		entries = append(entries, Entry{Name: name, Token: token, Where: "line " + strconv.Itoa(n)})
	}
	return entries, nil
}

// checkName reports what is wrong with a name. It does not quote the
// name: with the two fields swapped, the name is the token.
func checkName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("the name (first field) has %d characters; at most %d", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errors.New("the name (first field) may hold only A-Z a-z 0-9 . _ -")
		}
	}
	if isDigest(name) {
		return errors.New("the name (first field) is 64 hex digits, which reads as a token's digest: choose another")
	}
	return nil
}

// isDigest reports whether s looks like a hex SHA-256 digest.
func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func checkToken(token string) error {
	if token == "" {
		return errors.New("empty token")
	}
	if len(token) > MaxTokenLen {
		return fmt.Errorf("the token has %d bytes; at most %d", len(token), MaxTokenLen)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("the token has a byte (0x%02x) that is not visible ASCII", c)
		}
	}
	return nil
}

// CheckMode refuses a tokens file that is not a regular file or that
// group or others may read, write or run: it holds secrets. 0600 and 0400
// (a systemd credential) pass.
func CheckMode(mode fs.FileMode) error {
	if !mode.IsRegular() {
		return fmt.Errorf("not a regular file (mode %v)", mode)
	}
	if perm := mode.Perm(); perm&0o077 != 0 {
		return fmt.Errorf("mode %04o lets group or others at it; a tokens file holds secrets: chmod 600 it", perm)
	}
	return nil
}

// ReadFile reads and parses the tokens file at path, refusing it when its
// mode lets group or others at it (CheckMode). Errors name the file.
func ReadFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	if err := CheckMode(st.Mode()); err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("tokens file %s: larger than %d bytes", path, MaxFileSize)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("tokens file %s: has a NUL byte: not a text file", path)
	}
	entries, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	for i := range entries {
		entries[i].Where += " of " + path
	}
	return entries, nil
}

// FlagEntries names the publishers of --token: token-1, token-2, … in the
// order given.
func FlagEntries(tokens []string) ([]Entry, error) {
	entries := make([]Entry, 0, len(tokens))
	for i, t := range tokens {
		n := strconv.Itoa(i + 1)
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("--token %s: %w", n, err)
		}
		entries = append(entries, Entry{Name: "token-" + n, Token: t, Where: "--token " + n})
	}
	return entries, nil
}
