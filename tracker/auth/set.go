package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync/atomic"
)

// Role is what a token may do.
type Role int

const (
	// Publisher publishes tracks and unpublishes its own.
	Publisher Role = iota + 1
	// Admin takes tracks down and keeps the deny list. It does not publish.
	Admin
)

func (r Role) String() string {
	switch r {
	case Publisher:
		return "publisher"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Identity is who a token belongs to.
type Identity struct {
	Name string
	Role Role
}

// Set is the publishers and admins in force. It is immutable.
type Set struct {
	// byDigest is keyed by the SHA-256 of each token: a lookup hashes the
	// presented token first, so the map's timing tells nothing about the
	// tokens themselves.
	byDigest   map[[sha256.Size]byte]Identity
	publishers []string // sorted
	admins     []string // sorted
}

// NewSet makes the set of these publishers and admins. Names are unique
// within a role (an admin may share a publisher's name: the same person
// with two tokens); every token is unique across both.
func NewSet(publishers, admins []Entry) (*Set, error) {
	s := &Set{byDigest: make(map[[sha256.Size]byte]Identity, len(publishers)+len(admins))}
	where := map[[sha256.Size]byte]string{}
	for _, group := range []struct {
		role    Role
		entries []Entry
		names   *[]string
	}{{Publisher, publishers, &s.publishers}, {Admin, admins, &s.admins}} {
		seen := map[string]string{}
		for _, e := range group.entries {
			if err := checkName(e.Name); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Where, err)
			}
			if err := checkToken(e.Token); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Where, err)
			}
			if first, ok := seen[e.Name]; ok {
				return nil, fmt.Errorf("%s: %s name %q is that of %s already", e.Where, group.role, e.Name, first)
			}
			seen[e.Name] = e.Where
			d := sha256.Sum256([]byte(e.Token))
			if first, ok := where[d]; ok {
				return nil, fmt.Errorf("%s: the token is that of %s already; every token must be unique", e.Where, first)
			}
			where[d] = e.Where
			s.byDigest[d] = Identity{Name: e.Name, Role: group.role}
			*group.names = append(*group.names, e.Name)
		}
		slices.Sort(*group.names)
	}
	return s, nil
}

// Lookup returns the identity whose token this is.
func (s *Set) Lookup(token string) (Identity, bool) {
	if s == nil {
		return Identity{}, false
	}
	id, ok := s.byDigest[sha256.Sum256([]byte(token))]
	return id, ok
}

// Names returns the names of role, sorted.
func (s *Set) Names(role Role) []string {
	if s == nil {
		return nil
	}
	switch role {
	case Publisher:
		return slices.Clone(s.publishers)
	case Admin:
		return slices.Clone(s.admins)
	}
	return nil
}

// Digests maps the hex SHA-256 of each publisher's token to its name: how
// the catalog named a track's publisher before publishers had names.
func (s *Set) Digests() map[string]string {
	out := map[string]string{}
	if s == nil {
		return out
	}
	for d, id := range s.byDigest {
		if id.Role == Publisher {
			out[hex.EncodeToString(d[:])] = id.Name
		}
	}
	return out
}

// Changes returns the names of role that next has and prev has not
// (added), and those prev has and next has not (removed).
func Changes(prev, next *Set, role Role) (added, removed []string) {
	before, after := prev.Names(role), next.Names(role)
	for _, n := range after {
		if _, found := slices.BinarySearch(before, n); !found {
			added = append(added, n)
		}
	}
	for _, n := range before {
		if _, found := slices.BinarySearch(after, n); !found {
			removed = append(removed, n)
		}
	}
	return added, removed
}

// Source is where a Set comes from: the tracker's --token values and its
// --tokens and --admin-tokens files (either may be "").
type Source struct {
	Tokens          []string
	TokensFile      string
	AdminTokensFile string
}

// LoadError is why Source.Load made no set: bad input (a file that cannot
// be read, a bad line, a bad mode, a name or token given twice), not a
// failure of the program.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Load reads the files and makes the set. Errors are *LoadError and name
// the file or flag.
func (src Source) Load() (*Set, error) {
	set, err := src.load()
	if err != nil {
		return nil, &LoadError{err}
	}
	return set, nil
}

func (src Source) load() (*Set, error) {
	publishers, err := FlagEntries(src.Tokens)
	if err != nil {
		return nil, err
	}
	if src.TokensFile != "" {
		entries, err := ReadFile(src.TokensFile)
		if err != nil {
			return nil, fmt.Errorf("--tokens: %w", err)
		}
		publishers = append(publishers, entries...)
	}
	var admins []Entry
	if src.AdminTokensFile != "" {
		if admins, err = ReadFile(src.AdminTokensFile); err != nil {
			return nil, fmt.Errorf("--admin-tokens: %w", err)
		}
	}
	return NewSet(publishers, admins)
}

// Keyring holds the Set in force; Replace swaps it for every request that
// starts afterwards. Safe for concurrent use.
type Keyring struct {
	cur atomic.Pointer[Set]
}

// NewKeyring returns a keyring holding s (nil: nobody).
func NewKeyring(s *Set) *Keyring {
	k := &Keyring{}
	k.cur.Store(s)
	return k
}

// Set returns the set in force (nil: nobody).
func (k *Keyring) Set() *Set {
	if k == nil {
		return nil
	}
	return k.cur.Load()
}

// Replace puts s in force and returns the set it replaces.
func (k *Keyring) Replace(s *Set) *Set { return k.cur.Swap(s) }
