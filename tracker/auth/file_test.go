package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want []Entry // nil with err
		err  string  // a part of the error; "" for none
	}{
		{"empty", "", nil, ""},
		{"blank and comments", "\n  \n# a comment\n\t# indented comment\n", nil, ""},
		{"two", "alice tok-a\nbob\ttok-b\n", []Entry{{"alice", "tok-a", "line 1"}, {"bob", "tok-b", "line 2"}}, ""},
		{"no final newline, CRLF, padding", "  alice   tok-a  \r\n# x\r\nbob tok-b", []Entry{{"alice", "tok-a", "line 1"}, {"bob", "tok-b", "line 3"}}, ""},
		{"name characters", "A.b_c-9 t0k\n", []Entry{{"A.b_c-9", "t0k", "line 1"}}, ""},
		{"token punctuation", "a !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\n", []Entry{{"a", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "line 1"}}, ""},
		{"one field", "alice\n", nil, "line 1: want two fields"},
		{"three fields", "# ok\nalice tok extra\n", nil, "line 2: want two fields"},
		{"token with a space", "alice tok en\n", nil, "found 3"},
		{"bad name", "al/ice tok\n", nil, "line 1: the name (first field) may hold only"},
		{"unicode name", "alïce tok\n", nil, "may hold only"},
		{"long name", strings.Repeat("n", MaxNameLen+1) + " tok\n", nil, "at most 64"},
		{"digest name", strings.Repeat("ab", 32) + " tok\n", nil, "64 hex digits"},
		{"control in token", "alice to\x01k\n", nil, "not visible ASCII"},
		{"non-ASCII token", "alice tøk\n", nil, "not visible ASCII"},
		{"long token", "alice " + strings.Repeat("t", MaxTokenLen+1) + "\n", nil, "at most 1024"},
		{"duplicate name", "alice t1\nbob t2\nalice t3\n", nil, `line 3: the name "alice" is on line 1 already`},
		{"duplicate token", "alice t1\nbob t1\n", nil, "line 2: the token is line 1's already"},
		{"comment after fields is a field", "alice t1 # mine\n", nil, "found 4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse = %v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Parse = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestParseErrorsHideTokens: whatever is wrong with a line, the message
// never shows its token (or, fields swapped, the token in the name's place).
func TestParseErrorsHideTokens(t *testing.T) {
	const secret = "S3cret/Tok+en"
	for _, in := range []string{
		secret + " alice\n",                    // swapped
		"alice " + secret + " extra\n",         // three fields
		"alice " + secret + "\nbob " + secret,  // duplicate
		"alice " + secret + "\u00a0x\n",        // non-ASCII
		"al!ce " + secret + "\n",               // bad name
		strings.Repeat("a", 65) + " " + secret, // long name
	} {
		_, err := Parse([]byte(in))
		if err == nil {
			t.Errorf("Parse(%q): no error", in)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "S3cret") {
			t.Errorf("Parse(%q): error %q shows the token", in, err)
		}
	}
}

func TestCheckMode(t *testing.T) {
	for _, tt := range []struct {
		mode fs.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true}, {0o200, true}, {0o000, true},
		{0o640, false}, {0o644, false}, {0o604, false}, {0o660, false}, {0o610, false},
		{0o601, false}, {0o440, false}, {0o777, false},
		{fs.ModeDir | 0o700, false}, {fs.ModeSymlink | 0o600, false}, {fs.ModeNamedPipe | 0o600, false},
	} {
		err := CheckMode(tt.mode)
		if (err == nil) != tt.ok {
			t.Errorf("CheckMode(%v) = %v; want ok=%v", tt.mode, err, tt.ok)
		}
	}
}

// writeTokens writes a tokens file with mode and returns its path.
func writeTokens(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not under the umask
		t.Fatal(err)
	}
	return path
}

func TestReadFileModes(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o400} {
		path := writeTokens(t, "alice tok-a\n", mode)
		got, err := ReadFile(path)
		if err != nil || len(got) != 1 || got[0].Name != "alice" || got[0].Where != "line 1 of "+path {
			t.Errorf("mode %04o: ReadFile = %+v, %v", mode, got, err)
		}
	}
	for _, mode := range []os.FileMode{0o640, 0o644, 0o604, 0o660} {
		path := writeTokens(t, "alice tok-a\n", mode)
		_, err := ReadFile(path)
		if err == nil {
			t.Errorf("mode %04o: no error", mode)
			continue
		}
		// The message names the file and its mode.
		msg := err.Error()
		if !strings.Contains(msg, path) || !strings.Contains(msg, "mode 0"+octal(mode)) {
			t.Errorf("mode %04o: error %q does not name the file and its mode", mode, msg)
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	path := writeTokens(t, "alice tok\nbob\n", 0o600)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path+": line 2") {
		t.Errorf("bad line: %v; want the file and the line named", err)
	}
	path = writeTokens(t, "alice tok\x00\n", 0o600)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("NUL byte: %v", err)
	}
	path = writeTokens(t, strings.Repeat("#", MaxFileSize+1), 0o600)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge file: %v", err)
	}
}

func octal(m os.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestFlagEntries(t *testing.T) {
	got, err := FlagEntries([]string{"first", "second"})
	want := []Entry{{"token-1", "first", "--token 1"}, {"token-2", "second", "--token 2"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("FlagEntries = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"", "a b", " a", "tøk"} {
		if _, err := FlagEntries([]string{"ok", bad}); err == nil || !strings.Contains(err.Error(), "--token 2") {
			t.Errorf("FlagEntries(%q) = %v; want an error naming --token 2", bad, err)
		}
	}
}

func TestSet(t *testing.T) {
	set, err := NewSet(
		[]Entry{{"alice", "tok-a", "line 1"}, {"bob", "tok-b", "line 2"}},
		[]Entry{{"root", "tok-r", "line 1 of admins"}, {"alice", "tok-alice-admin", "line 2 of admins"}})
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]Identity{
		"tok-a": {"alice", Publisher}, "tok-b": {"bob", Publisher},
		"tok-r": {"root", Admin}, "tok-alice-admin": {"alice", Admin},
	} {
		if got, ok := set.Lookup(token); !ok || got != want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", token, got, ok, want)
		}
	}
	for _, token := range []string{"", "tok", "tok-a ", "TOK-A", "tok-ab"} {
		if got, ok := set.Lookup(token); ok {
			t.Errorf("Lookup(%q) = %+v; want nothing", token, got)
		}
	}
	if got := set.Names(Publisher); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("publishers %v", got)
	}
	if got := set.Names(Admin); !slices.Equal(got, []string{"alice", "root"}) {
		t.Errorf("admins %v", got)
	}
	sum := sha256.Sum256([]byte("tok-a"))
	if d := set.Digests(); len(d) != 2 || d[hex.EncodeToString(sum[:])] != "alice" {
		t.Errorf("Digests = %v; want the two publishers' only", d)
	}
	var none *Set
	if _, ok := none.Lookup("tok-a"); ok || none.Names(Publisher) != nil || len(none.Digests()) != 0 {
		t.Error("a nil set knows someone")
	}

	for _, tt := range []struct {
		name        string
		pubs, admin []Entry
		err         string
	}{
		{"publisher twice", []Entry{{"alice", "t1", "line 1"}, {"alice", "t2", "--token 1"}}, nil, `--token 1: publisher name "alice" is that of line 1 already`},
		{"token in both files", []Entry{{"alice", "t1", "line 1 of p"}}, []Entry{{"root", "t1", "line 3 of a"}}, "line 3 of a: the token is that of line 1 of p already"},
		{"admin twice", nil, []Entry{{"root", "t1", "line 1"}, {"root", "t2", "line 2"}}, `admin name "root"`},
		{"bad name", []Entry{{"a b", "t1", "x"}}, nil, "x: the name"},
		{"bad token", []Entry{{"ab", "", "x"}}, nil, "x: empty token"},
	} {
		if _, err := NewSet(tt.pubs, tt.admin); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: NewSet = %v; want an error with %q", tt.name, err, tt.err)
		}
	}
}

func TestChanges(t *testing.T) {
	prev, _ := NewSet([]Entry{{"alice", "1", ""}, {"bob", "2", ""}}, []Entry{{"root", "3", ""}})
	next, _ := NewSet([]Entry{{"alice", "4", ""}, {"carol", "5", ""}}, []Entry{{"root", "3", ""}})
	added, removed := Changes(prev, next, Publisher)
	if !slices.Equal(added, []string{"carol"}) || !slices.Equal(removed, []string{"bob"}) {
		t.Errorf("publishers added %v removed %v; want [carol] [bob] (a rotated token is no change)", added, removed)
	}
	if added, removed := Changes(prev, next, Admin); added != nil || removed != nil {
		t.Errorf("admins added %v removed %v", added, removed)
	}
	if added, _ := Changes(nil, next, Publisher); !slices.Equal(added, []string{"alice", "carol"}) {
		t.Errorf("from nothing: added %v", added)
	}
}

func TestSourceLoad(t *testing.T) {
	pubs := writeTokens(t, "# publishers\nalice tok-a\nbob tok-b\n", 0o600)
	admins := writeTokens(t, "root tok-r\n", 0o400)
	set, err := Source{Tokens: []string{"flag-tok"}, TokensFile: pubs, AdminTokensFile: admins}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Names(Publisher); !slices.Equal(got, []string{"alice", "bob", "token-1"}) {
		t.Errorf("publishers %v", got)
	}
	if id, ok := set.Lookup("tok-r"); !ok || id.Role != Admin {
		t.Errorf("admin lookup %+v %v", id, ok)
	}
	if set, err := (Source{}).Load(); err != nil || len(set.Names(Publisher)) != 0 {
		t.Errorf("empty source: %v, %v", set, err)
	}
	open := writeTokens(t, "root tok-r\n", 0o644)
	_, err = Source{TokensFile: pubs, AdminTokensFile: open}.Load()
	if err == nil || !strings.HasPrefix(err.Error(), "--admin-tokens: tokens file "+open+": mode 0644") {
		t.Errorf("open admin file: %v", err)
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Errorf("Load's error %T is not a *LoadError", err)
	}
	clash := writeTokens(t, "token-1 other\n", 0o600)
	if _, err := (Source{Tokens: []string{"x"}, TokensFile: clash}).Load(); err == nil || !strings.Contains(err.Error(), "--token 1") {
		t.Errorf("file name clashing with --token's: %v", err)
	}
	same := writeTokens(t, "root tok-a\n", 0o600)
	if _, err := (Source{TokensFile: pubs, AdminTokensFile: same}).Load(); err == nil || !strings.Contains(err.Error(), "every token must be unique") {
		t.Errorf("a token both publisher's and admin's: %v", err)
	}
}

func TestKeyring(t *testing.T) {
	a, _ := NewSet([]Entry{{"alice", "1", ""}}, nil)
	b, _ := NewSet([]Entry{{"alice", "2", ""}}, nil)
	k := NewKeyring(a)
	if k.Set() != a {
		t.Fatal("Set is not the set given")
	}
	if old := k.Replace(b); old != a || k.Set() != b {
		t.Fatal("Replace did not swap")
	}
	var none *Keyring
	if none.Set() != nil {
		t.Fatal("nil keyring has a set")
	}
}
