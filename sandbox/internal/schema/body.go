package schema

import "strconv"

// body walks a whole request body (tax data, registration) in place. These
// bodies are checked once per request, so it favours clarity over the
// allocation-free path CheckRecord takes.
type body struct {
	s scanner
	c checker
}

// read reads the members of the object at the scanner position (src is its
// source path): each member named in vals is stored there, each member named
// in walks is handed to its walker (which must consume the value) with the
// member's source path, and other members are skipped.
func (w *body) read(src string, vals map[string]*value, walks map[string]func(src string)) {
	if !w.s.objectStart() {
		return
	}
	for first := true; ; first = false {
		key, ok := w.s.nextField(first)
		if !ok {
			return
		}
		if dst, ok := vals[string(key)]; ok {
			*dst = w.s.value()
		} else if walk, ok := walks[string(key)]; ok {
			walk(join(src, string(key)))
		} else {
			w.s.value()
		}
	}
}

// array records what an array member held once walked.
type array struct {
	kind kind
	n    int
}

// each returns a walker for read that checks an array of objects with check
// and records the outcome in a.
func (w *body) each(a *array, check func(src string)) func(src string) {
	return func(src string) { a.kind, a.n = w.objects(src, check) }
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
func (w *body) nonEmpty(source string, a array) {
	switch {
	case a.kind == kindAbsent || a.kind == kindNull:
		w.c.add(source, "required", source+" is required")
	case a.kind != kindArray:
		w.c.add(source, "invalid", source+" must be an array, got "+a.kind.String())
	case a.n == 0:
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
