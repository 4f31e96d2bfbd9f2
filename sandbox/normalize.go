package sandbox

import "fmt"

// The cached shapes of records have the fields in the order of the GET
// examples and absent fields as null (as the Vendors page's GET sample
// shows). Unknown fields of a record are not kept.

// normalize appends a valid record in its cached shape to dst and returns
// the extended buffer; the record is the appended tail.
func normalize(dst []byte, obj Object, raw []byte) ([]byte, error) {
	var fs *fieldSet
	switch obj {
	case ObjectAccount:
		fs = accountFields
	case ObjectVendor:
		fs = vendorFields
	case ObjectList:
		fs = listFields
	default:
		return nil, fmt.Errorf("normalizing record: unknown object type %q", obj)
	}
	out, err := fs.render(dst, raw)
	if err != nil {
		return dst, fmt.Errorf("normalizing %s record: %w", obj, err)
	}
	return out, nil
}
