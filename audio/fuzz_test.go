package audio

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"testing"
	"time"
)

// FuzzOpenDecode probes arbitrary bytes and opens them as a track, decodes up to 10 s of
// samples, seeks to the middle and decodes a little more: no input may
// panic or hang. The committed corpus (testdata/fuzz/FuzzOpenDecode) holds
// the heads of real encoder output of every codec.
func FuzzOpenDecode(f *testing.F) {
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00"))
	f.Add([]byte("fLaC\x00\x00\x00\x22"))
	f.Add([]byte("OggS\x00\x02"))
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x44\xac\x00\x00\x88\x58\x01\x00\x02\x00\x10\x00data\x00\x00\x00\x00"))
	for _, name := range []string{"sweep-48k-mono.ogg"} {
		if data, err := os.ReadFile(fixturePath(f, name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang fails the fuzzer: crash the worker with every goroutine's
		// stack, so the input is saved and the loop can be seen.
		watchdog := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic("open+decode hung for 10 s:\n" + string(buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if info, err := ProbeReader(bytes.NewReader(data), int64(len(data)), ""); err == nil && info.Codec == "" {
			t.Fatalf("Probe succeeded without a codec: %+v", info)
		}
		tr, err := OpenBytes(ctx, data, Meta{Name: "fuzz", Duration: time.Second})
		if err != nil {
			return
		}
		defer tr.Close()
		buf := make([][2]float64, 4096)
		limit := 10 * int(tr.Format().SampleRate)
		for n := 0; n < limit; {
			k, ok := tr.Stream(buf)
			if k < 0 || k > len(buf) {
				t.Fatalf("Stream returned %d", k)
			}
			n += k
			if !ok {
				break
			}
		}
		if tr.Len() > 0 {
			if err := tr.Seek(tr.Len() / 2); err == nil {
				tr.Stream(buf)
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("open and decode took more than 5 s")
		}
	})
}
