package refdoc

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Body is one JSON body of an HTTPExample with the text line printed right
// above it ("Example 1 (create first level list item):"), if any.
type Body struct {
	Label string
	JSON  []byte
	Line  int
}

// HTTPExample is one documented request of a List Item style page: a shell
// block holding a full request ("POST https://host/list/v4/items" and
// header lines), the JSON bodies after it, a shell block holding the
// response status line and headers ("HTTP/1.1 201" …), and the JSON bodies
// after that. A page may print several request bodies and several response
// bodies for one request line, each labelled ("Example 2 and Example 3:").
type HTTPExample struct {
	Page    string // base name of the page
	Section string // the level-2 heading the example sits under
	Title   string // the nearest level-4 heading above the request
	Line    int    // line of the request block
	Method  string
	Path    string // path and query, without scheme and host
	Header  map[string]string
	// Requests are the request bodies; empty when none is shown.
	Requests []Body
	// Status is the documented status, 0 when none is shown.
	Status         int
	ResponseHeader map[string]string // lower-cased names
	Responses      []Body
}

// Name identifies the example in test output.
func (e HTTPExample) Name() string {
	return fmt.Sprintf("%s:%d %s %s", e.Page, e.Line, e.Method, e.Title)
}

// labelledBlock is a fenced block with its context.
type labelledBlock struct {
	Block
	Title string // nearest level-4 heading
	Label string // the last text line above the block, "" when a heading or block came between
}

// labelledBlocks reads every fenced block of a page with the nearest
// level-2 and level-4 headings and the text line right above it. Fences of
// three or more backticks are recognised (the pages use both).
func labelledBlocks(page string) ([]labelledBlock, error) {
	b, err := os.ReadFile(page)
	if err != nil {
		return nil, fmt.Errorf("reading reference page: %w", err)
	}
	var (
		out                     []labelledBlock
		heading, section, title string
		label                   string
		cur                     *labelledBlock
		fence                   string
		text                    strings.Builder
	)
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`") == "" {
				cur.Text = text.String()
				out = append(out, *cur)
				cur = nil
				label = ""
				continue
			}
			text.WriteString(line)
			text.WriteByte('\n')
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "```"):
			n := len(trimmed) - len(strings.TrimLeft(trimmed, "`"))
			fence = trimmed[:n]
			cur = &labelledBlock{
				Block: Block{Lang: strings.TrimSpace(trimmed[n:]), Heading: heading, Section: section, Line: i + 1},
				Title: title, Label: label,
			}
			text.Reset()
		case strings.HasPrefix(trimmed, "#"):
			heading = headingText(trimmed)
			level := len(trimmed) - len(strings.TrimLeft(trimmed, "#"))
			switch {
			case level == 2:
				section, title = heading, ""
			case level == 4:
				title = heading
			}
			label = ""
		case trimmed != "":
			label = trimmed
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("reference page %s: unterminated code block at line %d", filepath.Base(page), cur.Line)
	}
	return out, nil
}

// HTTPExamples returns the request/response examples of a List Item style
// page, in page order.
func HTTPExamples(page string) ([]HTTPExample, error) {
	blocks, err := labelledBlocks(page)
	if err != nil {
		return nil, err
	}
	var (
		out        []HTTPExample
		cur        = -1 // example being read
		inResponse bool
	)
	for _, b := range blocks {
		text := strings.TrimSpace(b.Text)
		first, rest, _ := strings.Cut(text, "\n")
		switch {
		case b.Lang == "shell" && isFullRequestLine(first):
			method, raw, _ := strings.Cut(strings.TrimSpace(first), " ")
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: request URL: %w", filepath.Base(page), b.Line, err)
			}
			path := u.EscapedPath()
			// Templates such as {itemId} stay as printed.
			if p, err := url.PathUnescape(path); err == nil {
				path = p
			}
			if u.RawQuery != "" {
				path += "?" + u.RawQuery
			}
			out = append(out, HTTPExample{
				Page: filepath.Base(page), Section: b.Section, Title: b.Title, Line: b.Line,
				Method: method, Path: path, Header: headerLines(rest, false),
			})
			cur, inResponse = len(out)-1, false
		case b.Lang == "shell" && strings.HasPrefix(first, "HTTP/") && cur >= 0 && !inResponse && out[cur].Status == 0:
			_, code, _ := strings.Cut(first, " ")
			n, err := strconv.Atoi(strings.Fields(code + " ")[0])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: status line %q: %w", filepath.Base(page), b.Line, first, err)
			}
			out[cur].Status = n
			out[cur].ResponseHeader = headerLines(rest, true)
			inResponse = true
		case b.Lang == "json" && cur >= 0:
			body := Body{Label: b.Label, JSON: []byte(b.Text), Line: b.Line}
			if inResponse {
				out[cur].Responses = append(out[cur].Responses, body)
			} else {
				out[cur].Requests = append(out[cur].Requests, body)
			}
		case b.Lang == "shell" && cur >= 0 && inResponse:
			// Anything else closes the example (an error sample, say).
			cur = -1
		}
	}
	return out, nil
}

// isFullRequestLine matches "METHOD https://host/path".
func isFullRequestLine(s string) bool {
	method, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	return ok && methods[method] && (strings.HasPrefix(rest, "https://") || strings.HasPrefix(rest, "http://"))
}

// headerLines reads "Name: value" lines.
func headerLines(s string, lower bool) map[string]string {
	h := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			continue
		}
		name = strings.TrimSpace(name)
		if lower {
			name = strings.ToLower(name)
		}
		h[name] = strings.TrimSpace(value)
	}
	return h
}

// ExampleNumbers returns the example numbers a body label names:
// "Example 1 (create …):" → [1], "Example 2 and Example 3:" → [2 3].
func ExampleNumbers(label string) []int {
	var out []int
	rest := label
	for {
		i := strings.Index(rest, "Example ")
		if i < 0 {
			return out
		}
		rest = rest[i+len("Example "):]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(rest[:j]); err == nil {
			out = append(out, n)
		}
		rest = rest[j:]
	}
}
