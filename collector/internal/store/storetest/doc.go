// Package storetest is the conformance suite that every store.Store
// implementation runs: one set of tests, so that SQLite and PostgreSQL
// behave alike, down to the errors they return and the precision of the
// times they keep.
//
// An implementation's test calls Run with a function that opens a new,
// empty store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "dw.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest
