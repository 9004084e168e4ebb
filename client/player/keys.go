package player

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
)

// keyAction is one rebindable action of the terminal UI: its name in the
// config file's [keys] section, its help text, its default keys, and where
// its binding lives in a keyMap.
type keyAction struct {
	name, help string
	keys       []string
	field      func(*keyMap) *key.Binding
}

// keyActions are the UI's actions in the order the help lists them.
var keyActions = []keyAction{
	{"pause", "pause", []string{"space"}, func(k *keyMap) *key.Binding { return &k.Pause }},
	{"seek-back", "-5s", []string{"left"}, func(k *keyMap) *key.Binding { return &k.Back }},
	{"seek-forward", "+5s", []string{"right"}, func(k *keyMap) *key.Binding { return &k.Fwd }},
	{"seek-back-60", "-60s", []string{","}, func(k *keyMap) *key.Binding { return &k.Back60 }},
	{"seek-forward-60", "+60s", []string{"."}, func(k *keyMap) *key.Binding { return &k.Fwd60 }},
	{"next", "next", []string{"n"}, func(k *keyMap) *key.Binding { return &k.Next }},
	{"prev", "previous", []string{"p"}, func(k *keyMap) *key.Binding { return &k.Prev }},
	{"volume-up", "volume up", []string{"+", "="}, func(k *keyMap) *key.Binding { return &k.VolUp }},
	{"volume-down", "volume down", []string{"-"}, func(k *keyMap) *key.Binding { return &k.VolDown }},
	{"mute", "mute", []string{"m"}, func(k *keyMap) *key.Binding { return &k.Mute }},
	{"shuffle", "shuffle", []string{"s"}, func(k *keyMap) *key.Binding { return &k.Shuffle }},
	{"repeat", "repeat off/all/one", []string{"r"}, func(k *keyMap) *key.Binding { return &k.Repeat }},
	// The queue: a cursor to pick a track with, then move, remove or play it.
	{"cursor-up", "queue cursor up", []string{"up", "k"}, func(k *keyMap) *key.Binding { return &k.Up }},
	{"cursor-down", "queue cursor down", []string{"down", "j"}, func(k *keyMap) *key.Binding { return &k.Down }},
	{"move-up", "move it up", []string{"K", "shift+up"}, func(k *keyMap) *key.Binding { return &k.MoveUp }},
	{"move-down", "move it down", []string{"J", "shift+down"}, func(k *keyMap) *key.Binding { return &k.MoveDown }},
	{"remove", "remove it", []string{"d", "delete"}, func(k *keyMap) *key.Binding { return &k.Remove }},
	{"play-selected", "play it", []string{"enter"}, func(k *keyMap) *key.Binding { return &k.Jump }},
	{"search", "search and pick", []string{"/"}, func(k *keyMap) *key.Binding { return &k.Search }},
	{"library", "library", []string{"tab"}, func(k *keyMap) *key.Binding { return &k.Library }},
	{"help", "help", []string{"?"}, func(k *keyMap) *key.Binding { return &k.Help }},
	{"quit", "quit", []string{"q"}, func(k *keyMap) *key.Binding { return &k.Quit }},
}

// KeyActions names the actions Keys may rebind, with their default keys:
// "pause=space", "next=n", …
func KeyActions() []string {
	out := make([]string, len(keyActions))
	for i, a := range keyActions {
		out[i] = a.name + "=" + strings.Join(a.keys, ",")
	}
	return out
}

// NewKeyMap is the default keys with overrides applied (action name →
// keys). An unknown action, an action with no key, a key bound to two
// actions, or ctrl+c (always the interrupt) is an error that says which.
func NewKeyMap(overrides map[string][]string) (keyMap, error) {
	var k keyMap
	owner := map[string]string{}
	for name, keys := range overrides {
		if !slices.ContainsFunc(keyActions, func(a keyAction) bool { return a.name == name }) {
			return keyMap{}, fmt.Errorf("keys: no action %q (the actions and their keys: %s)", name, strings.Join(KeyActions(), " "))
		}
		if len(keys) == 0 {
			return keyMap{}, fmt.Errorf("keys: %s has no key", name)
		}
	}
	for _, a := range keyActions {
		keys := a.keys
		if o, ok := overrides[a.name]; ok {
			keys = o
		}
		for _, kk := range keys {
			switch {
			case strings.TrimSpace(kk) == "" || kk != strings.TrimSpace(kk):
				return keyMap{}, fmt.Errorf("keys: %s: %q is not a key", a.name, kk)
			case kk == "ctrl+c":
				return keyMap{}, fmt.Errorf("keys: %s: ctrl+c is always the interrupt", a.name)
			case owner[kk] != "":
				return keyMap{}, fmt.Errorf("keys: %q is bound to both %s and %s", kk, owner[kk], a.name)
			}
			owner[kk] = a.name
		}
		*a.field(&k) = key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKeys(keys), a.help))
	}
	return k, nil
}

// helpKeys is how the help line shows keys.
func helpKeys(keys []string) string {
	shown := make([]string, len(keys))
	for i, k := range keys {
		switch k {
		case "left":
			k = "←"
		case "right":
			k = "→"
		case "up":
			k = "↑"
		case "down":
			k = "↓"
		}
		shown[i] = k
	}
	if len(shown) > 2 {
		shown = shown[:2]
	}
	return strings.Join(shown, "/")
}
