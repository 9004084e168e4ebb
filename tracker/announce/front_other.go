//go:build !linux

package announce

// serveFast is Linux's: elsewhere Serve accepts through net.Listener.
func (f *Front) serveFast() (ok bool, err error) { return false, nil }
