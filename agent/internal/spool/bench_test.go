package spool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppendAck measures the durable round of one entry: Append
// (file and directory synced) and Ack.
func BenchmarkAppendAck(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("body=%dKiB", size>>10), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			body := bytes.Repeat([]byte("d"), size)
			keys := []string{"file:/etc/motd", "package:openssl", "service:sshd"}
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				e, err := s.Append(KindReport, uint64(i+1), keys, body)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Ack(e.ID); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
		})
	}
}

// BenchmarkDrain10000 measures Drain sending 10,000 queued entries of
// 1 KiB to an HTTP server, each acknowledged and removed.
func BenchmarkDrain10000(b *testing.B) {
	const n = 10000
	var got atomic.Int64
	all := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if got.Add(1) == n {
			all <- struct{}{}
		}
	}))
	defer srv.Close()
	client := srv.Client()
	send := func(ctx context.Context, e Entry) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(e.Body))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	body := bytes.Repeat([]byte("d"), 1024)
	at := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	b.SetBytes(n * int64(len(body)))
	var took time.Duration
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		for id := uint64(1); id <= n; id++ {
			h := &fileHeader{ID: id, Kind: KindReport, Ref: id, At: at, Keys: []string{"file:/etc/motd"}}
			prefix, err := encodePrefix(h, body)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, entryName(id)), append(prefix, body...), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() { done <- s.Drain(ctx, send, nil) }()
		<-all
		took += time.Since(start)
		b.StopTimer()
		for s.Stats().Entries > 0 {
			time.Sleep(time.Millisecond) // the last acknowledgement
		}
		cancel()
		<-done
		s.Close()
		got.Store(0)
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "entries/s")
}
