package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrTokenNotFound is returned by TokenStore.Load when nothing is stored for
// the company.
var ErrTokenNotFound = errors.New("concur: no stored token for company")

// StoredToken is what a TokenStore keeps per company: the refresh token and
// what goes with it. Access tokens are never stored (the Authentication
// page asks to keep them in memory only). String and GoString redact the
// refresh token so that a StoredToken can be logged.
type StoredToken struct {
	CompanyID     string    `json:"companyId"`
	RefreshToken  string    `json:"refreshToken"`
	RefreshExpiry time.Time `json:"refreshExpiry,omitzero"`
	Geolocation   string    `json:"geolocation,omitempty"`
	UpdatedAt     time.Time `json:"updatedAt,omitzero"`
}

// String describes the token without its secret.
func (s StoredToken) String() string {
	return fmt.Sprintf("StoredToken{company %s, geolocation %q, refresh expiry %s, updated %s, refresh token %s}",
		s.CompanyID, s.Geolocation, s.RefreshExpiry.Format(time.RFC3339), s.UpdatedAt.Format(time.RFC3339), redacted(s.RefreshToken))
}

// GoString is String, so that %#v redacts too.
func (s StoredToken) GoString() string { return s.String() }

func redacted(secret string) string {
	if secret == "" {
		return "<none>"
	}
	return "<redacted>"
}

// TokenStore persists the refresh token of each company. Save must be
// atomic and durable when it returns nil: a TokenSource saves every new
// refresh token before it uses the access token that came with it, so that
// a crash never loses the only valid refresh token. One TokenSource per
// company should use a store at a time.
type TokenStore interface {
	// Load returns the stored token of the company, or an error matching
	// ErrTokenNotFound.
	Load(ctx context.Context, companyID string) (*StoredToken, error)
	// Save stores tok under tok.CompanyID, replacing what was there.
	Save(ctx context.Context, tok StoredToken) error
}

// DirStore is a TokenStore keeping one JSON file per company in a directory
// (mode 0700), each file mode 0600, replaced atomically: written to a
// temporary file in the same directory, fsynced, renamed over the old one,
// and the directory fsynced.
type DirStore struct {
	dir string
}

// NewDirStore returns a DirStore in dir, creating it (mode 0700) if needed.
func NewDirStore(dir string) (*DirStore, error) {
	if dir == "" {
		return nil, errors.New("concur: token store directory is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating token store directory: %w", err)
	}
	return &DirStore{dir: dir}, nil
}

// Dir returns the directory of the store.
func (d *DirStore) Dir() string { return d.dir }

// path returns the file of a company, refusing ids that could escape the
// directory.
func (d *DirStore) path(companyID string) (string, error) {
	if companyID == "" || companyID == "." || companyID == ".." {
		return "", fmt.Errorf("invalid company id %q", companyID)
	}
	for _, r := range companyID {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return "", fmt.Errorf("invalid company id %q: only letters, digits, '-', '_' and '.' are allowed", companyID)
		}
	}
	return filepath.Join(d.dir, companyID+".json"), nil
}

// Load implements TokenStore.
func (d *DirStore) Load(ctx context.Context, companyID string) (*StoredToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.path(companyID)
	if err != nil {
		return nil, fmt.Errorf("loading token: %w", err)
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("loading token for company %s: %w", companyID, ErrTokenNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("loading token for company %s: %w", companyID, err)
	}
	var tok StoredToken
	if err := json.Unmarshal(data, &tok); err != nil {
		// The json error may quote file content; keep it out of the message.
		return nil, fmt.Errorf("loading token for company %s: %s is not a valid token file", companyID, p)
	}
	if tok.CompanyID != companyID {
		return nil, fmt.Errorf("loading token for company %s: %s belongs to company %q", companyID, p, tok.CompanyID)
	}
	return &tok, nil
}

// Save implements TokenStore.
func (d *DirStore) Save(ctx context.Context, tok StoredToken) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(tok.CompanyID)
	if err != nil {
		return fmt.Errorf("saving token: %w", err)
	}
	data, err := json.MarshalIndent(tok, "", "  ")
	if err != nil {
		return fmt.Errorf("saving token for company %s: %w", tok.CompanyID, err)
	}
	if err := writeFileAtomic(p, data); err != nil {
		return fmt.Errorf("saving token for company %s: %w", tok.CompanyID, err)
	}
	return nil
}

// writeFileAtomic replaces p with data: temporary file (0600) in the same
// directory, fsync, rename, fsync of the directory.
func writeFileAtomic(p string, data []byte) (err error) {
	dir := filepath.Dir(p)
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, p); err != nil {
		return err
	}
	dirf, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer dirf.Close()
	return dirf.Sync()
}

// MemoryStore is a TokenStore in memory, for tests and programs that get a
// new request token on every start. Rotated refresh tokens are lost when
// the process ends.
type MemoryStore struct {
	mu     sync.Mutex
	tokens map[string]StoredToken
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{tokens: make(map[string]StoredToken)}
}

// Load implements TokenStore.
func (m *MemoryStore) Load(ctx context.Context, companyID string) (*StoredToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tok, ok := m.tokens[companyID]
	if !ok {
		return nil, fmt.Errorf("loading token for company %s: %w", companyID, ErrTokenNotFound)
	}
	return &tok, nil
}

// Save implements TokenStore.
func (m *MemoryStore) Save(ctx context.Context, tok StoredToken) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens[tok.CompanyID] = tok
	return nil
}
