package docgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Files returns every generated file, keyed by path relative to the
// components directory.
func Files(pages []Page) map[string][]byte {
	files := make(map[string][]byte, len(pages)+1)
	for _, p := range pages {
		files[p.FileName()] = p.Body
	}
	files["README.md"] = Index(pages)
	return files
}

// Write replaces dir's generated files with files, removing generated pages
// of components that no longer exist.
func Write(dir string, files map[string][]byte) error {
	old, err := Existing(dir)
	if err != nil {
		return err
	}
	for name := range old {
		if _, keep := files[name]; !keep {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("removing stale page %s: %w", name, err)
			}
		}
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// Existing reads the generated files currently in dir (markdown files that
// carry the generated header).
func Existing(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == dir {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || filepath.Ext(path) != ".md" {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(body, []byte(generatedHeader)) {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = body
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading generated docs in %s: %w", dir, err)
	}
	return files, nil
}
