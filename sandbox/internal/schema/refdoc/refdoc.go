// Package refdoc reads the examples out of the Concur reference pages (the
// markdown kept beside the repository in shared/reference/concur), so tests
// replay the documentation itself and catch drift between it and the code.
//
// An Accounting Integration page documents an example as a run of fenced
// blocks under an "Example"/"Examples" heading: a shell block holding the
// request line ("PATCH /accountingintegration/v4/..."), optionally a json
// block with the body, then a shell block holding the status ("202
// Accepted") and optionally a json block with the response. One response may
// follow several requests (the Accounts page shows two PATCH requests and
// one response); it then belongs to each of them. Request lines outside an
// examples section (the URI templates) are not examples.
package refdoc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Rel is the reference directory relative to the directory holding the
// repository.
const Rel = "shared/reference/concur"

// ErrNotFound is returned by Dir when no reference directory is found.
var ErrNotFound = errors.New("reference pages not found: expected " + Rel + " beside the repository")

// Dir finds the reference directory by looking for Rel in the working
// directory and each of its parents.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("locating reference pages: %w", err)
	}
	for d := wd; ; {
		p := filepath.Join(d, Rel)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", ErrNotFound
		}
		d = parent
	}
}

// TB is the part of testing.TB that Require needs, so this package does not
// import testing.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Require returns the reference directory for a test, skipping the test with
// a clear message when the pages are not there and failing it on any other
// error.
func Require(t TB) string {
	t.Helper()
	d, err := Dir()
	if errors.Is(err, ErrNotFound) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("%v", err)
	}
	return d
}

// Block is one fenced code block of a page.
type Block struct {
	Lang    string // the info string after the fence ("json", "shell", "")
	Text    string // the content, without the fences
	Heading string // text of the nearest heading above the block
	Section string // text of the nearest level-2 heading above the block
	Line    int    // 1-based line of the opening fence
}

// Blocks returns every fenced block of a page, in order.
func Blocks(page string) ([]Block, error) {
	b, err := os.ReadFile(page)
	if err != nil {
		return nil, fmt.Errorf("reading reference page: %w", err)
	}
	var (
		out              []Block
		heading, section string
		cur              *Block
		text             strings.Builder
	)
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if strings.HasPrefix(trimmed, "```") {
				cur.Text = text.String()
				out = append(out, *cur)
				cur = nil
				continue
			}
			text.WriteString(line)
			text.WriteByte('\n')
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "```"):
			cur = &Block{Lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), Heading: heading, Section: section, Line: i + 1}
			text.Reset()
		case strings.HasPrefix(trimmed, "#"):
			heading = headingText(trimmed)
			if strings.HasPrefix(trimmed, "## ") {
				section = heading
			}
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("reference page %s: unterminated code block at line %d", filepath.Base(page), cur.Line)
	}
	return out, nil
}

// headingText strips the hashes and any HTML anchor from a heading line.
func headingText(line string) string {
	h := strings.TrimSpace(strings.TrimLeft(line, "#"))
	for {
		open := strings.Index(h, "<")
		if open < 0 {
			break
		}
		end := strings.Index(h[open:], ">")
		if end < 0 {
			break
		}
		h = h[:open] + h[open+end+1:]
	}
	return strings.TrimSpace(h)
}

// Example is one documented request with its documented response.
type Example struct {
	Page     string // base name of the page
	Section  string // the level-2 heading the example sits under
	Title    string // the heading right above the request ("Request: add tax data")
	Line     int    // line of the request block
	Method   string
	Path     string
	Request  []byte // JSON body, nil when none is shown
	Status   int    // documented status, 0 when none is shown
	Response []byte // JSON body, nil when none is shown
}

// Name identifies the example in test output.
func (e Example) Name() string {
	return fmt.Sprintf("%s:%d %s %s", e.Page, e.Line, e.Method, e.Title)
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// Examples returns the request/response examples of an Accounting
// Integration style page.
func Examples(page string) ([]Example, error) {
	blocks, err := Blocks(page)
	if err != nil {
		return nil, err
	}
	var (
		out     []Example
		pending []int // requests still waiting for their status
		last    = -1  // index of the block kind last seen: request or status
		status  []int // requests the last status belonged to
	)
	const (
		sawRequest = iota
		sawStatus
	)
	for _, b := range blocks {
		text := strings.TrimSpace(b.Text)
		switch {
		case b.Lang == "shell" && isRequestLine(text) && inExamples(b.Heading):
			method, path, _ := strings.Cut(text, " ")
			out = append(out, Example{
				Page: filepath.Base(page), Section: b.Section, Title: b.Heading, Line: b.Line,
				Method: method, Path: strings.TrimSpace(path),
			})
			pending = append(pending, len(out)-1)
			last = sawRequest
		case b.Lang == "shell" && isStatusLine(text) && len(pending) > 0:
			code, _ := strconv.Atoi(text[:3])
			for _, i := range pending {
				out[i].Status = code
			}
			status, pending = pending, nil
			last = sawStatus
		case b.Lang == "json" && last == sawRequest && len(pending) > 0:
			out[pending[len(pending)-1]].Request = []byte(b.Text)
		case b.Lang == "json" && last == sawStatus:
			for _, i := range status {
				out[i].Response = []byte(b.Text)
			}
			last = -1
		}
	}
	return out, nil
}

func isRequestLine(s string) bool {
	method, path, ok := strings.Cut(s, " ")
	return ok && methods[method] && strings.HasPrefix(path, "/") && !strings.Contains(s, "\n")
}

func isStatusLine(s string) bool {
	if len(s) < 3 || strings.Contains(s, "\n") {
		return false
	}
	_, err := strconv.Atoi(s[:3])
	return err == nil && (len(s) == 3 || s[3] == ' ')
}

// inExamples reports whether a block sits in an examples section rather than
// under a URI template heading.
func inExamples(heading string) bool {
	h := strings.ToLower(heading)
	return strings.HasPrefix(h, "request") || strings.HasPrefix(h, "example")
}
