package concur

import (
	"context"
	"testing"
	"time"
)

func TestMappingsMemStoreLRUAndTTL(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(0, 0)
	s := newMappingsMemStore(2, time.Minute, func() time.Time { return now })
	has := func(k string) bool { _, ok, _ := s.get(ctx, k); return ok }
	_ = s.set(ctx, "a", []byte("1"))
	_ = s.set(ctx, "b", []byte("2"))
	if !has("a") { // a is now the most recently used
		t.Fatal("a missing")
	}
	_ = s.set(ctx, "c", []byte("3"))
	if has("b") || !has("a") || !has("c") {
		t.Fatal("the least recently used entry should have been dropped")
	}
	now = now.Add(time.Minute)
	if has("a") || has("c") {
		t.Fatal("entries outlived their TTL")
	}
	_ = s.set(ctx, "d", []byte("4"))
	_ = s.del(ctx, "d")
	if has("d") || s.order.Len() != 0 || len(s.entries) != 0 {
		t.Fatalf("store not empty: %d %d", s.order.Len(), len(s.entries))
	}
}
