package concur

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDirStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "tokens")
	store, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, %v", fi.Mode(), err)
	}
	ctx := context.Background()
	if _, err := store.Load(ctx, testCompany); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("empty store: %v", err)
	}
	want := StoredToken{CompanyID: testCompany, RefreshToken: "rt", Geolocation: "https://us.example", RefreshExpiry: time.Unix(1798000000, 0).UTC(), UpdatedAt: time.Unix(1700000000, 0).UTC()}
	for i := range 3 { // replacing keeps one file
		want.RefreshToken = strings.Repeat("r", i+1)
		if err := store.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.Load(ctx, testCompany)
	if err != nil || *got != want {
		t.Fatalf("loaded %v, %v; want %v", got, err, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != testCompany+".json" {
		t.Errorf("directory entries %v, %v", entries, err)
	}
	fi, err = os.Stat(filepath.Join(dir, testCompany+".json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v", fi.Mode(), err)
	}

	for _, id := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a b"} {
		if err := store.Save(ctx, StoredToken{CompanyID: id, RefreshToken: "x"}); err == nil {
			t.Errorf("company id %q accepted", id)
		}
		if _, err := store.Load(ctx, id); err == nil || errors.Is(err, ErrTokenNotFound) {
			t.Errorf("load of company id %q: %v", id, err)
		}
	}

	// A file holding another company's token is refused.
	other := StoredToken{CompanyID: "other", RefreshToken: "x"}
	if err := store.Save(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "other.json"), filepath.Join(dir, "third.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx, "third"); err == nil || !strings.Contains(err.Error(), "belongs to company") {
		t.Errorf("mismatched file: %v", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := store.Save(cancelled, want); !errors.Is(err, context.Canceled) {
		t.Errorf("save with a cancelled context: %v", err)
	}
	if _, err := store.Load(cancelled, testCompany); !errors.Is(err, context.Canceled) {
		t.Errorf("load with a cancelled context: %v", err)
	}
	if _, err := NewDirStore(""); err == nil {
		t.Error("empty directory accepted")
	}
}

func TestDirStoreSaveFailureKeepsOldFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: directory permissions do not stop writes")
	}
	dir := t.TempDir()
	store, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := StoredToken{CompanyID: testCompany, RefreshToken: "old"}
	if err := store.Save(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if err := store.Save(ctx, StoredToken{CompanyID: testCompany, RefreshToken: "new"}); err == nil {
		t.Fatal("save into a read-only directory succeeded")
	}
	got, err := store.Load(ctx, testCompany)
	if err != nil || got.RefreshToken != "old" {
		t.Errorf("after a failed save: %v, %v", got, err)
	}
}

func TestMemoryStore(t *testing.T) {
	m := NewMemoryStore()
	ctx := context.Background()
	if _, err := m.Load(ctx, "c"); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("empty: %v", err)
	}
	if err := m.Save(ctx, StoredToken{CompanyID: "c", RefreshToken: "r"}); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Load(ctx, "c"); err != nil || got.RefreshToken != "r" {
		t.Errorf("loaded %v %v", got, err)
	}
}

func TestDirStoreFailedRenameLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	store, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The target path is a non-empty directory, so the rename fails.
	if err := os.MkdirAll(filepath.Join(dir, testCompany+".json", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(context.Background(), StoredToken{CompanyID: testCompany, RefreshToken: "r"}); err == nil {
		t.Fatal("save over a directory succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("entries after a failed save: %v, %v", entries, err)
	}
}
