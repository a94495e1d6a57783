package visitcache_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/internal/visitcache"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// TestCloneSharesNothing fills every field of a visit (so a field
// added later is covered) and checks that the clone is equal and shares no
// pointer, slice or map with the original.
func TestCloneSharesNothing(t *testing.T) {
	v := new(gatehouse.Visit)
	fill(reflect.ValueOf(v).Elem())
	c := visitcache.Clone(v)
	if !reflect.DeepEqual(v, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", v, c)
	}
	shared(t, "Visit", reflect.ValueOf(v).Elem(), reflect.ValueOf(c).Elem())
}

// TestSpaceReadRacingChange checks that a space read while a change is
// announced is served to its reader but not kept, and that a space over
// the memory bound is not kept either.
func TestSpaceReadRacingChange(t *testing.T) {
	ctx := context.Background()
	c := visitcache.New()
	c.SetOn(true)
	k := visitcache.SpaceKey{WorkspaceID: 1, ClientID: 2, UserID: 3, Documents: 5, Messages: 3}
	reads := 0
	find := func(during func()) {
		t.Helper()
		_, err := c.FindSpace(ctx, k, func(context.Context) (*portal.Space, error) {
			reads++
			during()
			return &portal.Space{Client: portal.Client{ID: 2}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	find(func() { c.DropSpaces(func(visitcache.SpaceKey) bool { return false }) })
	find(func() {})
	if reads != 2 {
		t.Fatalf("a space read while a change was announced was kept (%d reads, want 2)", reads)
	}
	find(func() {})
	if reads != 2 {
		t.Fatalf("a space read with nothing changing was not kept (%d reads, want 2)", reads)
	}

	huge := visitcache.SpaceKey{WorkspaceID: 1, ClientID: 9}
	big := &portal.Space{Messages: []portal.Message{{Body: strings.Repeat("x", visitcache.MaxSpaceBytes)}}}
	for range 2 {
		c.FindSpace(ctx, huge, func(context.Context) (*portal.Space, error) { reads++; return big, nil })
	}
	if reads != 4 {
		t.Fatalf("a space over the memory bound was kept (%d reads, want 4)", reads)
	}
}

func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2039, 3, 1, 12, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0))
		fill(s.Index(1))
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	}
}

func shared(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				shared(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	case reflect.Slice, reflect.Pointer, reflect.Map:
		if !a.IsNil() && a.UnsafePointer() == b.UnsafePointer() {
			t.Errorf("%s is shared between a visit and its clone", path)
		}
		if a.Kind() == reflect.Slice {
			for i := range a.Len() {
				shared(t, path+"[]", a.Index(i), b.Index(i))
			}
		}
		if a.Kind() == reflect.Pointer && !a.IsNil() {
			shared(t, path+"*", a.Elem(), b.Elem())
		}
	}
}

// TestRenewEnds checks that a cache the store stops renewing stops serving
// (and is emptied) at the deadline it was given.
func TestRenewEnds(t *testing.T) {
	c := visitcache.New()
	if c.On() {
		t.Fatal("a new cache serves")
	}
	c.Renew(time.Now().Add(time.Hour))
	if !c.On() {
		t.Fatal("a renewed cache does not serve")
	}
	c.Renew(time.Now().Add(-time.Millisecond))
	if c.On() {
		t.Fatal("a cache past its deadline serves")
	}
}
