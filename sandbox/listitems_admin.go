package sandbox

import (
	"errors"
	"net/http"
	"strings"
)

// listItemAdminRoutes registers the admin calls on SAP Concur lists: what a
// customer administrator does in the SAP Concur UI, and inspection.
func (s *Server) listItemAdminRoutes(mux *http.ServeMux) {
	const c = adminPrefix + "/companies/{companyId}"
	mux.HandleFunc("GET "+c+"/lists", s.adminConcurLists)
	mux.HandleFunc("POST "+c+"/lists", s.adminCreateConcurList)
	mux.HandleFunc("DELETE "+c+"/lists/{listId}", s.adminDeleteConcurList)
	mux.HandleFunc("GET "+c+"/lists/{listId}/items", s.adminListItems)
}

func (s *Server) adminConcurLists(w http.ResponseWriter, r *http.Request) {
	lists, err := s.ConcurLists(strings.ToLower(r.PathValue("companyId")))
	s.adminResult(w, r, http.StatusOK, map[string]any{"data": lists}, err)
}

func (s *Server) adminCreateConcurList(w http.ResponseWriter, r *http.Request) {
	var in ConcurList
	if !s.adminBody(w, r, &in) {
		return
	}
	l, err := s.CreateConcurList(strings.ToLower(r.PathValue("companyId")), in)
	s.adminResult(w, r, http.StatusCreated, l, err)
}

func (s *Server) adminDeleteConcurList(w http.ResponseWriter, r *http.Request) {
	err := s.DeleteConcurList(strings.ToLower(r.PathValue("companyId")), r.PathValue("listId"))
	s.adminResult(w, r, http.StatusNoContent, nil, err)
}

func (s *Server) adminListItems(w http.ResponseWriter, r *http.Request) {
	items, err := s.ListItems(strings.ToLower(r.PathValue("companyId")), r.PathValue("listId"))
	s.adminResult(w, r, http.StatusOK, map[string]any{"data": items}, err)
}

// adminMapListBody is the admin listMappings body: a ListMapping, plus the
// level count of the SAP Concur list when the mapping creates it.
type adminMapListBody struct {
	ListMapping
	Levels int `json:"levels"`
}

// createMappedList creates the mapping's SAP Concur list with the given
// levels when it does not exist yet (levels 0: MapList's default).
func (s *Server) createMappedList(companyID string, in adminMapListBody) error {
	if in.Levels == 0 || in.ConcurListID == "" {
		return nil
	}
	s.mu.Lock()
	_, err := s.concurListLocked(companyID, in.ConcurListID)
	s.mu.Unlock()
	if !errors.Is(err, ErrNotFound) {
		return nil // exists (or the company is unknown: MapList says so)
	}
	_, err = s.CreateConcurList(companyID, ConcurList{ID: in.ConcurListID, Levels: in.Levels})
	return err
}
