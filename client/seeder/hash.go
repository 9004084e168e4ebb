package seeder

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Piece lengths: 16 KiB (one BitTorrent chunk) so the first seconds of a
// track are a handful of pieces, doubled while a file would need more than
// maxPieces, up to 64 KiB.
const (
	minPieceLength = 16 << 10
	maxPieceLength = 64 << 10
	maxPieces      = 1500
)

// PieceLength is the piece length of a track of size bytes: the smallest
// power of two from 16 KiB that keeps the file within 1500 pieces, at most
// 64 KiB.
func PieceLength(size int64) int64 {
	pl := int64(minPieceLength)
	for pl < maxPieceLength && (size+pl-1)/pl > maxPieces {
		pl *= 2
	}
	return pl
}

// HashFile returns the concatenated SHA-1 of each pieceLength piece of the
// file at path, which must be size bytes long. progress (if not nil) gets
// the number of bytes hashed as they are.
func HashFile(ctx context.Context, path string, size, pieceLength int64, progress func(int64)) ([]byte, error) {
	if pieceLength <= 0 {
		return nil, fmt.Errorf("hash %s: piece length %d", path, pieceLength)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	defer f.Close()
	n := (size + pieceLength - 1) / pieceLength
	pieces := make([]byte, 0, n*sha1.Size)
	// Read many pieces per call: fewer syscalls, same hashes.
	per := max(1, (1<<20)/pieceLength)
	buf := make([]byte, per*pieceLength)
	h := sha1.New()
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		want := min(int64(len(buf)), size-off)
		got, err := io.ReadFull(f, buf[:want])
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("hash %s: file shrank to %d bytes while hashing (was %d)", path, off+int64(got), size)
			}
			return nil, fmt.Errorf("hash %s: %w", path, err)
		}
		for p := int64(0); p < int64(got); p += pieceLength {
			h.Reset()
			h.Write(buf[p:min(p+pieceLength, int64(got))])
			pieces = h.Sum(pieces)
		}
		off += int64(got)
		if progress != nil {
			progress(int64(got))
		}
	}
	return pieces, nil
}

// runPool calls fn(i) for i in [0, n) on workers goroutines and returns
// when all calls have returned (or ctx is done and the running ones have
// finished). fn's errors are its own business: the pool only stops early
// on ctx.
func runPool(ctx context.Context, n, workers int, fn func(i int)) error {
	if workers < 1 {
		workers = 1
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return err
}
