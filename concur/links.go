package concur

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Link relations listed under Relation on the Schema page.
const (
	RelSelf   = "self"
	RelErrors = "errors"
	RelNext   = "next"
)

// Link is a hyperlink with its relation (see Links on the Schema page).
type Link struct {
	Rel  string `json:"rel,omitempty"`
	Href string `json:"href"`
}

// Links is a set of links. The Schema page describes an array of
// {rel, href}, while every example answer carries an object keyed by
// relation ({"next": {"href": …}}); both forms are read. Links are written in
// the keyed form the examples show, unless a relation is empty or repeated,
// in which case the array form is written.
type Links []Link

// Href returns the href of the first link with relation rel, or "".
func (l Links) Href(rel string) string {
	for _, link := range l {
		if link.Rel == rel {
			return link.Href
		}
	}
	return ""
}

// UnmarshalJSON reads the array form, the keyed-object form or null,
// keeping the order of the input.
func (l *Links) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case b[0] == '[':
		var arr []Link
		if err := json.Unmarshal(b, &arr); err != nil {
			return fmt.Errorf("decoding links array: %w", err)
		}
		*l = arr
		return nil
	case b[0] != '{':
		return fmt.Errorf("decoding links: expected an array or an object, got %.20q", b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // the opening brace
		return fmt.Errorf("decoding links object: %w", err)
	}
	var out Links
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("decoding links object: %w", err)
		}
		rel, _ := tok.(string)
		var link Link
		if err := dec.Decode(&link); err != nil {
			return fmt.Errorf("decoding link %q: %w", rel, err)
		}
		link.Rel = rel
		out = append(out, link)
	}
	*l = out
	return nil
}

// MarshalJSON writes the keyed form when every relation is set and unique,
// otherwise the array form.
func (l Links) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("null"), nil
	}
	seen := make(map[string]bool, len(l))
	keyed := true
	for _, link := range l {
		if link.Rel == "" || seen[link.Rel] {
			keyed = false
			break
		}
		seen[link.Rel] = true
	}
	if !keyed {
		return json.Marshal([]Link(l))
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, link := range l {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, err := json.Marshal(link.Rel)
		if err != nil {
			return nil, err
		}
		href, err := json.Marshal(link.Href)
		if err != nil {
			return nil, err
		}
		buf.Write(key)
		buf.WriteString(`:{"href":`)
		buf.Write(href)
		buf.WriteByte('}')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
