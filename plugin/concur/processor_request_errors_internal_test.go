package concur

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"

	concurapi "github.com/concurflow/concurflow/concur"
)

// The sandbox always stores valid JSON values, so a broken values string is
// checked on the message builder directly: it must still yield a message.
func TestReqerrMessageKeepsInvalidValues(t *testing.T) {
	in := service.NewMessage([]byte(`{"event":true}`))
	in.MetaSet("kept", "yes")
	in.MetaSet(reqerrMetaRecordID, "stale")
	tgt := reqerrTarget{companyID: "c", erpID: "e", requestID: "r", status: concurapi.StatusError}
	for _, tc := range []struct {
		values, invalid, id string
	}{
		{`{"id":"A1","name":`, "true", ""},
		{``, "true", ""},
		{`{"id":"A2"}`, "", "A2"},
	} {
		m, err := reqerrMessage(in, tgt, concurapi.ProcessingError{ErrorCode: "x", ObjectType: concurapi.ObjectTypeAccount, RawValues: tc.values})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := m.AsBytes()
		invalid, _ := m.MetaGet(reqerrMetaValuesInvalid)
		id, _ := m.MetaGet(reqerrMetaRecordID)
		kept, _ := m.MetaGet("kept")
		verrs, _ := m.MetaGet(reqerrMetaValidationErrors)
		rid, _ := m.MetaGet(reqerrMetaRequestID)
		if string(body) != tc.values || invalid != tc.invalid || id != tc.id || kept != "yes" || verrs != "[]" || rid != "r" {
			t.Errorf("values %q: body %q invalid %q id %q kept %q verrs %q rid %q", tc.values, body, invalid, id, kept, verrs, rid)
		}
	}
	if b, _ := in.AsBytes(); string(b) != `{"event":true}` {
		t.Fatalf("incoming message changed: %s", b)
	}
}
