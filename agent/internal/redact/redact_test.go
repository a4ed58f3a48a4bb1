package redact

import (
	"strings"
	"testing"
)

func TestRedactDefaults(t *testing.T) {
	r, err := New(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
		redacted       bool
	}{
		{"ini password", "user = app\npassword = hunter2\nport = 5432\n", "user = app\npassword = [REDACTED]\nport = 5432\n", true},
		{"prefixed key", "db_password: 'p@ss word'\n", "db_password: [REDACTED]\n", true},
		{"json", `{"api_key": "abc123", "name": "x"}`, `{"api_key": [REDACTED], "name": "x"}`, true},
		{"client secret", "CLIENT_SECRET=xyz789 # rotate\n", "CLIENT_SECRET=[REDACTED] # rotate\n", true},
		{"token colon", "auth_token:abcdef", "auth_token:[REDACTED]", true},
		{"redis", "requirepass s3cret\nmasterauth other\n", "requirepass [REDACTED]\nmasterauth [REDACTED]\n", true},
		{"url credentials", "url = postgres://app:pa55@db.internal:5432/app\n", "url = postgres://app:[REDACTED]@db.internal:5432/app\n", true},
		{"bearer", "Authorization: Bearer eyJhbGciOi.x.y\n", "Authorization: Bearer [REDACTED]\n", true},
		{"aws", "key AKIAIOSFODNN7EXAMPLE\n", "key [REDACTED]\n", true},
		{"pem", "x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA\n-----END OPENSSH PRIVATE KEY-----\ny\n",
			"x\n-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]-----END OPENSSH PRIVATE KEY-----\ny\n", true},
		{"public cert kept", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", false},
		{"no secret", "PermitRootLogin no\nPasswordAuthentication no\n", "PermitRootLogin no\nPasswordAuthentication no\n", false},
		{"sudoers tags stay visible", "deploy ALL=(ALL) NOPASSWD: ALL\n%admin ALL=(ALL) PASSWD: ALL\n", "deploy ALL=(ALL) NOPASSWD: ALL\n%admin ALL=(ALL) PASSWD: ALL\n", false},
		{"passwd key", "db_passwd=abc\n", "db_passwd=[REDACTED]\n", true},
		{"already masked", "password = [REDACTED]\n", "password = [REDACTED]\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, red := r.Redact([]byte(tt.in))
			if string(got) != tt.want || red != tt.redacted {
				t.Errorf("Redact(%q) = %q, %v; want %q, %v", tt.in, got, red, tt.want, tt.redacted)
			}
			if tt.redacted && strings.Contains(string(got), "hunter2") {
				t.Error("secret leaked")
			}
		})
	}
}

func TestRedactCustom(t *testing.T) {
	// The example pattern has no "secret" group: the whole match goes.
	r, err := New([]string{`(?i)(password|secret|token|api_key)\s*[:=]\s*\S+`, `(?P<secret>SSN-\d+)`}, false)
	if err != nil {
		t.Fatal(err)
	}
	got, red := r.Redact([]byte("a\npassword=x1\nid SSN-1234 ok\n"))
	if want := "a\n[REDACTED]\nid [REDACTED] ok\n"; string(got) != want || !red {
		t.Errorf("got %q, %v; want %q", got, red, want)
	}
	if _, err := New([]string{"("}, false); err == nil || !strings.Contains(err.Error(), `"("`) {
		t.Errorf("bad pattern: err = %v, want one naming the pattern", err)
	}
}

func TestRedactDoesNotModifyInput(t *testing.T) {
	r, _ := New(nil, true)
	in := []byte("password = a\n")
	r.Redact(in)
	if string(in) != "password = a\n" {
		t.Errorf("input modified: %q", in)
	}
}

func TestRedactLineEdges(t *testing.T) {
	r, _ := New(nil, true)
	tests := map[string]string{
		"token=a":                         "token=[REDACTED]",
		"x\ntoken=a":                      "x\ntoken=[REDACTED]",
		"token=a\n\ntoken=b\n":            "token=[REDACTED]\n\ntoken=[REDACTED]\n",
		"a\r\nsecret: b\r\nc\r\n":         "a\r\nsecret: [REDACTED]\r\nc\r\n",
		"keyboard = us\nmonkey: banana\n": "keyboard = us\nmonkey: banana\n",
		"API_KEY=1 # and TOKEN=2 too\n":   "API_KEY=[REDACTED] # and TOKEN=[REDACTED] too\n",
		"\n\n":                            "\n\n",
		"":                                "",
	}
	for in, want := range tests {
		if got, _ := r.Redact([]byte(in)); string(got) != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkRedact measures redaction of config-like text in which one line
// in fifty holds a secret.
func BenchmarkRedact(b *testing.B) {
	r, _ := New(nil, true)
	var sb strings.Builder
	for i := 0; sb.Len() < 1<<20; i++ {
		if i%50 == 0 {
			sb.WriteString("db_password = s3cret\n")
		} else {
			sb.WriteString("listen_address = 0.0.0.0:8080 # the port the service binds\n")
		}
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r.Redact(data)
	}
}
