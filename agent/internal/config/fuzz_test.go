package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser: it must either give a
// configuration that passed validation or diagnostics that print, never
// panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.hcl")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("files \"etc\" {\n  paths = [\"/etc\"]\n  contnet = true\n}\n"))
	f.Add([]byte("command \"fw\" { argv = [\"x\"] timeout = \"1h\" }\nredact { patterns = [\"(\"] }"))
	f.Add([]byte("host { labels = { a = 1 } }\nusers {}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse(src, "fuzz.hcl")
		if err != nil {
			d, ok := AsDiagnostics(err)
			if !ok {
				t.Fatalf("error is not diagnostics: %v", err)
			}
			if err := d.WriteText(io.Discard); err != nil {
				t.Fatalf("write diagnostics: %v", err)
			}
			return
		}
		if cfg.StateDir == "" || cfg.Host == nil || cfg.Host.Name == "" {
			t.Fatalf("valid config without defaults: %+v", cfg)
		}
		for _, fl := range cfg.Files {
			if fl.ContentSize <= 0 {
				t.Fatalf("files %q: content size %d", fl.Name, fl.ContentSize)
			}
		}
	})
}
