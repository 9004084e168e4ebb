package main

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v3"
)

// TestEveryFlagReadsTheConfigFile: every flag of every command, its
// subcommands' included, can be set in the config file's section of the
// command, by its name (the "every flag by its name"; [ctl] json
// was accepted by the check and then ignored).
func TestEveryFlagReadsTheConfigFile(t *testing.T) {
	root := rootCommand()
	for _, top := range root.Commands {
		var walk func(c *cli.Command)
		walk = func(c *cli.Command) {
			for _, f := range c.Flags {
				name := f.Names()[0]
				if name == "help" {
					continue
				}
				if !readsFile(f, top.Name, name) {
					t.Errorf("peertune %s: --%s does not read [%s] %s of the config file", c.FullName(), name, top.Name, name)
				}
			}
			for _, sub := range c.Commands {
				walk(sub)
			}
		}
		walk(top)
	}
}

// readsFile reports whether flag f's sources include the config file's
// [section] key.
func readsFile(f cli.Flag, section, key string) bool {
	v := reflect.ValueOf(f)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return false
	}
	sources := v.FieldByName("Sources")
	if !sources.IsValid() {
		return false
	}
	chain, ok := sources.Interface().(cli.ValueSourceChain)
	if !ok {
		return false
	}
	for _, s := range chain.Chain {
		if fs, ok := s.(fileSource); ok && fs.section == section && fs.key == key {
			return true
		}
	}
	return false
}
