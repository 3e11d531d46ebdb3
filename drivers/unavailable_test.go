package drivers

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestUnavailable(t *testing.T) {
	why := func(name string) error { return Unsupported(name, "no pool", "make one") }
	d := Unavailable(Info{Name: "pool", Family: "poolfs", Backing: "a pool"}, why)
	want := "driver unsupported on this host: pool: no pool (fix: make one)"
	_, oerr := d.Open(context.Background(), Options{})
	for what, err := range map[string]error{"check": d.Check(context.Background()), "open": oerr} {
		if !errors.Is(err, ErrUnsupported) || err.Error() != want {
			t.Errorf("%s = %v, want %q", what, err, want)
		}
	}

	v, err := d.(Variants).Variant(Spec{Name: "pool2", Driver: "pool"})
	if err != nil {
		t.Fatal(err)
	}
	if i := v.Info(); i.Name != "pool2" || i.Family != "poolfs" || d.Info().Name != "pool" {
		t.Errorf("variant info %+v, base %+v", i, d.Info())
	}
	if err := v.Check(context.Background()); err == nil || !strings.Contains(err.Error(), ": pool2: no pool") {
		t.Errorf("variant check = %v", err)
	}
	for _, spec := range []Spec{{Name: "x", MountOptions: []string{"ro"}}, {Name: "x", Backing: "ext4"}} {
		if _, err := d.(Variants).Variant(spec); err == nil {
			t.Errorf("variant %+v accepted", spec)
		}
	}
}
