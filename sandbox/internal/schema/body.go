package schema

import "strconv"

// body walks a whole request body (tax data, registration) in place. These
// bodies are checked once per request, so it favours clarity over the
// allocation-free path CheckRecord takes.
type body struct {
	s scanner
	c checker
}

// fields iterates the members of the object at the scanner position, calling
// fn with the key; fn must consume the member's value (s.value() to read or
// skip it, or a nested walk).
func (w *body) fields(fn func(key string)) {
	if !w.s.objectStart() {
		return
	}
	for first := true; ; first = false {
		key, ok := w.s.nextField(first)
		if !ok {
			return
		}
		fn(string(key))
	}
}

// objects walks the array at the scanner position, calling fn for each
// element that is an object with the element's source path; elements of any
// other kind are reported as invalid. It returns the kind of the member
// (absent is never returned: the member is present) and how many elements it
// had.
func (w *body) objects(source string, fn func(src string)) (kind, int) {
	if w.s.peek() != '[' {
		return w.s.value().kind, 0
	}
	w.s.arrayStart()
	n := 0
	for first := true; w.s.nextElem(first); first = false {
		src := source + "[" + strconv.Itoa(n) + "]"
		n++
		if w.s.peek() == '{' {
			fn(src)
			continue
		}
		v := w.s.value()
		if !w.s.bad {
			w.c.add(src, "invalid", src+" must be an object, got "+v.kind.String())
		}
	}
	return kindArray, n
}

// nonEmpty checks a required array member once it has been walked.
func (w *body) nonEmpty(source string, k kind, n int) {
	switch {
	case k == kindAbsent || k == kindNull:
		w.c.add(source, "required", source+" is required")
	case k != kindArray:
		w.c.add(source, "invalid", source+" must be an array, got "+k.String())
	case n == 0:
		w.c.add(source, "required", source+" must hold at least one entry")
	}
}

// finish returns the collected errors, or the single syntax error when the
// body is not one well-formed JSON object.
func (w *body) finish() []ValidationError {
	if !w.s.end() {
		return []ValidationError{{
			Source:       "",
			ErrorMessage: "request body must be a well-formed JSON object",
			ErrorCode:    "body.invalid",
		}}
	}
	return w.c.errs
}

// join builds a member's source path under its parent.
func join(parent, field string) string {
	if parent == "" {
		return field
	}
	return parent + "." + field
}
