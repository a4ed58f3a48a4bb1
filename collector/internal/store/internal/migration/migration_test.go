package migration

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []string
		wantErr string
	}{
		{
			name: "sorted",
			files: fstest.MapFS{
				"m/0002_more.sql": {Data: []byte("b")},
				"m/0001_init.sql": {Data: []byte("a")},
				"m/README.md":     {Data: []byte("not a migration")},
			},
			want: []string{"0001_init", "0002_more"},
		},
		{
			name:    "gap",
			files:   fstest.MapFS{"m/0001_init.sql": {}, "m/0003_more.sql": {}},
			wantErr: "want version 0002",
		},
		{
			name:    "repeat",
			files:   fstest.MapFS{"m/0001_init.sql": {}, "m/0001_again.sql": {}},
			wantErr: "want version 0002",
		},
		{
			name:    "bad name",
			files:   fstest.MapFS{"m/1_init.sql": {}},
			wantErr: "not NNNN_name.sql",
		},
		{
			name:    "empty",
			files:   fstest.MapFS{"m/README.md": {}},
			wantErr: "no *.sql files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Load(tt.files, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load: error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range files {
				names = append(names, f.Name)
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("Load names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPending(t *testing.T) {
	files := []File{{Version: 1, Name: "0001_a"}, {Version: 2, Name: "0002_b"}, {Version: 3, Name: "0003_c"}}
	got, err := Pending(files, []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "0003_c" {
		t.Errorf("Pending after 1, 2 = %v, want [0003_c]", got)
	}
	if got, _ := Pending(files, nil); len(got) != 3 {
		t.Errorf("Pending on a new database = %d files, want 3", len(got))
	}
	if _, err := Pending(files, []int{1, 2, 3, 4}); err == nil || !strings.Contains(err.Error(), "newer release") {
		t.Errorf("Pending with an unknown version: error %v, want one asking for a newer release", err)
	}
}
