package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/driftwatch/driftwatch/collector/internal/notify"
)

// FuzzParse feeds arbitrary bytes to the parser: it must either give a
// complete configuration or diagnostics that print, never panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.hcl")
	files = append(files, "../../../packaging/collector.hcl")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("store \"sqlite\" {}\nstore \"postgres\" { dsn = \"postgres://h/db\" }\n"))
	f.Add([]byte("store \"mysql\" { dsn = \"x\" }\n"))
	f.Add([]byte("insecure = true\ntls { cert_file = \"/a\" }\n"))
	f.Add([]byte("listen = \":0\"\npublic_url = \"https://u:p@h/?q#f\"\n"))
	f.Add([]byte("limits { max_report_size = \"1.5GiB\" request_timeout = \"7d\" }\n"))
	f.Add([]byte("smtp { host = \"h\" from = \"a@b.example\" tls = \"none\" }\nnotify \"t\" { recipients = [\"x@y.example\"] digest = \"@weekly\" }\n"))
	f.Add([]byte("notify \"t\" { alert_level3 = [\"x@y.example\"] quiet_hours = \"23:59-00:00\" time_zone = \"Asia/Kolkata\" }\n"))
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
		if cfg.ListenAddr == "" || cfg.PublicURL == nil || cfg.DataDir == "" {
			t.Fatalf("valid config without defaults: %+v", cfg)
		}
		switch cfg.Store.Kind {
		case StoreSQLite:
			if cfg.Store.Path == "" {
				t.Fatalf("sqlite store without a path: %+v", cfg.Store)
			}
		case StorePostgres:
			if cfg.Store.DSN == "" {
				t.Fatalf("postgres store without a dsn: %+v", cfg.Store)
			}
		default:
			t.Fatalf("store kind %q", cfg.Store.Kind)
		}
		if cfg.Limits.MaxReportSize <= 0 || cfg.Limits.MaxBlobSize <= 0 || cfg.Limits.RequestTimeout <= 0 {
			t.Fatalf("limits %+v", cfg.Limits)
		}
		if cfg.Insecure && cfg.TLS != nil {
			t.Fatal("insecure with tls accepted")
		}
		if len(cfg.Notify) > 0 && cfg.SMTP == nil {
			t.Fatal("notify blocks without an smtp block accepted")
		}
		if cfg.SMTP != nil {
			if _, err := notify.NewSMTP(*cfg.SMTP); err != nil && cfg.SMTP.CAFile == "" {
				t.Fatalf("smtp block accepted that the mailer refuses: %v", err)
			}
		}
		for _, p := range cfg.Notify {
			if p.TenantName == "" || p.Location == nil || p.Level3Window <= 0 || p.Level2Every <= 0 ||
				len(p.Recipients)+len(p.Level3)+len(p.Level2) == 0 {
				t.Fatalf("incomplete policy %+v", p)
			}
		}
	})
}
