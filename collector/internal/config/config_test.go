package config

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftwatch/driftwatch/collector/internal/notify"
)

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/full.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/full.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := &Collector{
		ListenAddr: "0.0.0.0:9443",
		DataDir:    "/srv/driftwatch-collector",
		TLS:        &TLS{CertFile: "/etc/driftwatch/tls.crt", KeyFile: "/etc/driftwatch/tls.key"},
		Store: Store{
			Kind: StorePostgres,
			DSN:  "postgres://driftwatch:secret@db.example.com:5432/driftwatch?sslmode=verify-full",
		},
		Limits: Limits{MaxReportSize: 128 << 20, MaxBlobSize: 8 << 20, RequestTimeout: 90 * time.Second},
		SMTP: &notify.SMTPConfig{
			Host: "mail.example.com", Port: 587, TLS: notify.StartTLS, CAFile: "/etc/driftwatch/smtp-ca.pem",
			Username: "driftwatch", PasswordFile: "/etc/driftwatch/smtp.pass", Auth: notify.AuthLogin,
			From: "driftwatch <drift@example.com>", HELO: "collector.example.com", Timeout: 45 * time.Second,
		},
		Notify: []notify.Policy{
			policy(t, "acme", notify.Settings{
				Digest: "0 16 * * FRI", TimeZone: "America/New_York", Period: "week",
				Recipients:  []string{"ops@acme.example", "Acme IT <it@acme.example>"},
				AlertLevel3: []string{"oncall@msp.example"}, Level3Window: "15m",
				AlertLevel2: []string{"lead@msp.example"}, Level2Every: "1h", QuietHours: "22:00-07:00",
			}),
			// The month's default schedule: the first at 08:00, Berlin time.
			policy(t, "globex", notify.Settings{Digest: "0 8 1 * *", Period: "month", TimeZone: "Europe/Berlin", Recipients: []string{"it@globex.example"}}),
		},
		Path:   "testdata/full.hcl",
		Digest: sha256.Sum256(src),
	}
	if got := cfg.PublicURL.String(); got != "https://drift.example.com:9443/driftwatch" {
		t.Errorf("public_url = %q", got)
	}
	got := *cfg
	got.PublicURL = nil
	if diff := cmp.Diff(want, &got, policyCmp...); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("testdata/minimal.hcl")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	wantURL := "https://" + net.JoinHostPort(strings.ToLower(host), "8443")
	if got := cfg.PublicURL.String(); got != wantURL {
		t.Errorf("public_url = %q, want %q", got, wantURL)
	}
	got := *cfg
	got.PublicURL = nil
	got.Digest = [32]byte{}
	want := &Collector{
		ListenAddr: DefaultListen,
		DataDir:    DefaultDataDir,
		Store:      Store{Kind: StoreSQLite, Path: "/var/lib/driftwatch-collector/driftwatch.db"},
		Limits:     Limits{MaxReportSize: 64 << 20, MaxBlobSize: 16 << 20, RequestTimeout: 30 * time.Second},
		Path:       "testdata/minimal.hcl",
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

// TestDerivedDefaults checks the defaults that follow other settings.
func TestDerivedDefaults(t *testing.T) {
	cfg, err := Parse([]byte("listen = \"127.0.0.1:8080\"\ninsecure = true\ndata_dir = \"/srv/dw/\"\nstore \"sqlite\" {}\n"), "c.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublicURL.Scheme != "http" || cfg.PublicURL.Port() != "8080" {
		t.Errorf("public_url = %s, want http://HOSTNAME:8080", cfg.PublicURL)
	}
	if cfg.Store.Path != "/srv/dw/driftwatch.db" || cfg.DataDir != "/srv/dw" {
		t.Errorf("data_dir = %q, store = %+v", cfg.DataDir, cfg.Store)
	}
	if !cfg.Insecure || cfg.TLS != nil {
		t.Errorf("insecure = %v, tls = %+v", cfg.Insecure, cfg.TLS)
	}
}

func TestPackagedConfig(t *testing.T) {
	cfg, err := Load("../../../packaging/collector.hcl")
	if err != nil {
		if d, ok := AsDiagnostics(err); ok {
			var buf bytes.Buffer
			_ = d.WriteText(&buf)
			t.Fatal(buf.String())
		}
		t.Fatal(err)
	}
	if cfg.ListenAddr != DefaultListen || cfg.DataDir != DefaultDataDir || cfg.Insecure || cfg.TLS != nil {
		t.Errorf("packaged config differs from the defaults: %+v", cfg)
	}
	want := Store{Kind: StoreSQLite, Path: DefaultDataDir + "/" + DefaultSQLiteFile}
	if cfg.Store != want {
		t.Errorf("store = %+v, want %+v", cfg.Store, want)
	}
	if want := (Limits{DefaultMaxReportSize, DefaultMaxBlobSize, DefaultRequestTimeout}); cfg.Limits != want {
		t.Errorf("limits = %+v, want %+v", cfg.Limits, want)
	}
}

// TestErrors checks that each mistake is reported at the place it is, with
// a message that says what is wrong.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		pos       string // line:col of the first error
		want      string // part of its message
	}{
		{"syntax error", "listen = \":8443\"\ntls {\n  cert_file = \"/x\"\n", "2:5", `Unclosed configuration block`},
		{"unknown attribute", "listen = \":8443\"\nlisten_addr = \":1\"\n", "2:1", `An argument named "listen_addr" is not expected here`},
		{"unknown block", "stroe \"sqlite\" {}\n", "1:1", `Blocks of type "stroe" are not expected here`},
		{"wrong type", "insecure = \"maybe\"\n", "1:13", `Unsuitable value`},
		{"bad listen", "listen = \"8443\"\n", "1:10", `listen must be host:port or :port`},
		{"bad listen port", "listen = \":http-alt\"\n", "1:10", `port "http-alt" is not a number`},
		{"listen port 0 without public_url", "listen = \"127.0.0.1:0\"\n", "1:10", `public_url cannot be guessed`},
		{"relative public_url", "public_url = \"drift.example.com:8443\"\n", "1:14", `public_url must be an absolute http:// or https:// URL`},
		{"public_url without host", "public_url = \"https:///x\"\n", "1:14", `has no host`},
		{"public_url with password", "public_url = \"https://u:pw@drift.example.com\"\n", "1:14", `must not hold a user name or password`},
		{"public_url with query", "public_url = \"https://drift.example.com/?a=1\"\n", "1:14", `must not have a query`},
		{"public_url bad", "public_url = \"https://drift example.com\"\n", "1:14", `is not a URL`},
		{"relative data_dir", "data_dir = \"var/lib/dw\"\n", "1:12", `data_dir must be an absolute path, not "var/lib/dw"`},
		{"tls without key", "tls {\n  cert_file = \"/etc/dw/tls.crt\"\n}\n", "1:1", `add key_file`},
		{"tls without cert", "tls {\n  key_file = \"/etc/dw/tls.key\"\n}\n", "1:1", `add cert_file`},
		{"empty tls", "\ntls {}\n", "2:1", `Remove the block to serve a self-signed certificate`},
		{"relative tls path", "tls {\n  cert_file = \"/etc/dw/tls.crt\"\n  key_file  = \"tls.key\"\n}\n", "3:15", `key_file must be an absolute path`},
		{"insecure with tls", "insecure = true\ntls {\n  cert_file = \"/a\"\n  key_file = \"/b\"\n}\n", "1:12", `tls block at c.hcl:2:1 cannot apply`},
		{"duplicate tls", "tls {\n  cert_file = \"/a\"\n  key_file = \"/b\"\n}\ntls {}\n", "5:1", `Duplicate tls block`},
		{"two stores", "store \"sqlite\" {}\n\nstore \"postgres\" {\n  dsn = \"postgres://h/db\"\n}\n", "3:1", `Only one store block is allowed; the first is at c.hcl:1:1`},
		{"unknown store", "store \"mysql\" {\n  dsn = \"mysql://h/db\"\n}\n", "1:7", `Store type "mysql" is not supported; use "sqlite" or "postgres"`},
		{"store without label", "store {}\n", "1:7", `Missing kind for store`},
		{"sqlite with dsn", "store \"sqlite\" {\n  dsn = \"postgres://h/db\"\n}\n", "2:3", `An argument named "dsn" is not expected here`},
		{"relative sqlite path", "store \"sqlite\" {\n  path = \"dw.db\"\n}\n", "2:10", `path must be an absolute path, not "dw.db"`},
		{"postgres without dsn", "store \"postgres\" {\n}\n", "1:18", `The argument "dsn" is required`},
		{"postgres key-value dsn", "store \"postgres\" {\n  dsn = \"host=db user=dw\"\n}\n", "2:9", `dsn must be a postgres:// or postgresql:// URL`},
		{"postgres mysql dsn", "store \"postgres\" {\n  dsn = \"mysql://u:pw@h/db\"\n}\n", "2:9", `not a "mysql" one`},
		{"postgres bad dsn", "store \"postgres\" {\n  dsn = \"postgres://u:pw@h:port/db\"\n}\n", "2:9", `The value is not shown`},
		{"bad size", "limits {\n  max_report_size = \"64 parsecs\"\n}\n", "2:21", `unknown unit "parsecs"`},
		{"zero size", "limits {\n  max_blob_size = \"0MiB\"\n}\n", "2:19", `max_blob_size must be positive`},
		{"bad duration", "limits {\n  request_timeout = \"soon\"\n}\n", "2:21", `duration "soon"`},
		{"negative duration", "limits {\n  request_timeout = \"-1s\"\n}\n", "2:21", `request_timeout must be positive`},
		{"size as number is bytes", "limits {\n  max_blob_size = 1024\n}\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "c.hcl")
			if tt.pos == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			d, ok := AsDiagnostics(err)
			if !ok {
				t.Fatalf("error %v is not diagnostics", err)
			}
			first := d.Diags[0]
			if first.Subject == nil {
				t.Fatalf("diagnostic %q has no position", first.Summary)
			}
			pos := first.Subject.Start
			if got := fmt.Sprintf("%d:%d", pos.Line, pos.Column); got != tt.pos {
				t.Errorf("position %s, want %s (%s)", got, tt.pos, first.Error())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err.Error(), tt.want)
			}
			var buf bytes.Buffer
			if err := d.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			prefix := fmt.Sprintf("c.hcl:%d:%d: error: %s\n", pos.Line, pos.Column, first.Summary)
			if !strings.HasPrefix(out, prefix) {
				t.Errorf("diagnostic text does not start with %q:\n%s", prefix, out)
			}
			// The text writer shows the offending source line.
			line := strings.TrimSpace(strings.Split(tt.src, "\n")[pos.Line-1])
			if line != "" && !strings.Contains(out, line) {
				t.Errorf("diagnostic text does not show the line %q:\n%s", line, out)
			}
		})
	}
}

// TestDSNNotInMessage checks that a password in a bad DSN stays out of
// the error message (the text rendering shows the source line, as the
// operator wrote it).
func TestDSNNotInMessage(t *testing.T) {
	for _, dsn := range []string{"postgres://u:hunter2@h:port/db", "mysql://u:hunter2@h/db", "host=h password=hunter2"} {
		_, err := Parse([]byte("store \"postgres\" { dsn = \""+dsn+"\" }\n"), "c.hcl")
		if err == nil {
			t.Fatalf("dsn %q accepted", dsn)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if err == nil || !strings.Contains(err.Error(), "nope.hcl") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}
