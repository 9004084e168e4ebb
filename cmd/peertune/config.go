package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v3"

	"github.com/peertune/peertune/client/player"
)

// The config file holds defaults for every command's flags: a section per
// command ([play], [seed], [tracker], [search], [cache], [ctl]), each flag
// by its name. A flag given beats the environment, which beats the file,
// which beats the built-in default. Its place: $PEERTUNE_CONFIG, else
// $XDG_CONFIG_HOME/peertune/config.toml (~/.config/peertune/config.toml).
// A [keys] section rebinds the terminal UI's keys: action = "key" or
// ["key", …] (player.KeyActions lists the actions).

// keysSection is the config file's section of the terminal UI's keys.
const keysSection = "keys"

// configPath is where the config file is; "" when no place is known.
func configPath() string {
	if p := os.Getenv("PEERTUNE_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "peertune", "config.toml")
}

// config is the config file of one command line, read once when a flag
// or the check first asks for it.
type config struct {
	path string
	once sync.Once
	tbl  map[string]map[string]any
	err  error
}

func newConfig() *config { return &config{path: configPath()} }

func (c *config) table() (map[string]map[string]any, error) {
	c.once.Do(func() { c.tbl, c.err = readConfig(c.path) })
	return c.tbl, c.err
}

// source is the flag's value in the [section] of the file.
func (c *config) source(section, key string) fileSource {
	return fileSource{conf: c, section: section, key: key}
}

// readConfig parses the config file at path: nil, nil when there is none.
func readConfig(path string) (map[string]map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	var conf map[string]map[string]any
	if _, err := toml.DecodeFile(path, &conf); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return conf, nil
}

// fileSource is a flag's value in the config file, as a cli.ValueSource.
type fileSource struct {
	conf         *config
	section, key string
}

func (s fileSource) Lookup() (string, bool) {
	tbl, err := s.conf.table()
	if err != nil {
		return "", false // check refused the file before any flag was read
	}
	v, ok := tbl[s.section][s.key]
	if !ok {
		return "", false
	}
	return configValue(v)
}

func (s fileSource) String() string   { return fmt.Sprintf("config [%s] %s", s.section, s.key) }
func (s fileSource) GoString() string { return fmt.Sprintf("fileSource{%q, %q}", s.section, s.key) }

// configValue is a TOML value as a flag's text: strings, numbers, booleans,
// and lists of them (a flag given several times) joined by commas.
func configValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := configValue(x)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	}
	return "", false
}

// check refuses a config file that does not parse, names a section that
// is no command, a key that is no flag of its command, or a value that no
// flag takes: a typo should not be silently ignored.
func (c *config) check(root *cli.Command) error {
	path := c.path
	conf, err := c.table()
	if err != nil {
		return usageErrorf("%w", err)
	}
	if _, err := c.keys(); err != nil {
		return err
	}
	for _, section := range sortedKeys(conf) {
		if section == keysSection {
			continue
		}
		cmd := root.Command(section)
		if cmd == nil {
			return usageErrorf("config file %s: [%s] is not a command (want one of play, seed, tracker, search, cache, ctl, or keys)", path, section)
		}
		// A section holds the flags of its command and of the command's
		// subcommands ([ctl] all is ctl queue's --all).
		flags := map[string]bool{}
		var collect func(c *cli.Command)
		collect = func(c *cli.Command) {
			for _, f := range c.Flags {
				for _, n := range f.Names() {
					flags[n] = true
				}
			}
			for _, sub := range c.Commands {
				collect(sub)
			}
		}
		collect(cmd)
		for _, key := range sortedKeys(conf[section]) {
			if !flags[key] || key == "help" {
				return usageErrorf("config file %s: [%s] has no flag %q (peertune %s --help lists them)", path, section, key, section)
			}
			if _, ok := configValue(conf[section][key]); !ok {
				return usageErrorf("config file %s: [%s] %s: want a string, number, boolean or a list of them", path, section, key)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// keys is the [keys] section: the terminal UI's actions rebound, checked
// (player.NewKeyMap); nil when the file has none.
func (c *config) keys() (map[string][]string, error) {
	conf, err := c.table()
	if err != nil {
		return nil, usageErrorf("%w", err)
	}
	sec, ok := conf[keysSection]
	if !ok {
		return nil, nil
	}
	keys := map[string][]string{}
	for _, action := range sortedKeys(sec) {
		switch v := sec[action].(type) {
		case string:
			keys[action] = []string{v}
		case []any:
			for _, x := range v {
				s, ok := x.(string)
				if !ok {
					return nil, usageErrorf("config file %s: [keys] %s: want a key or a list of keys, as strings", c.path, action)
				}
				keys[action] = append(keys[action], s)
			}
		default:
			return nil, usageErrorf("config file %s: [keys] %s: want a key or a list of keys, as strings", c.path, action)
		}
	}
	if _, err := player.NewKeyMap(keys); err != nil {
		return nil, usageErrorf("config file %s: %w", c.path, err)
	}
	return keys, nil
}
