package drivers

import "context"

// Unavailable returns a driver seedbench lists but does not run, because its snapshotter needs
// storage seedbench does not set up (a dm-thin pool, a zfs pool): `seedbench drivers` and every
// result then say why it is missing and what would fix that. info is what it lists; Check and Open
// return why(name) for the driver's name, an error wrapping ErrUnsupported (Unsupported) with the
// reason and the fix as this host has them. Its variants only rename it: it takes no mount options
// and brings its own storage.
func Unavailable(info Info, why func(name string) error) Driver {
	return unavailable{info: info, why: why}
}

type unavailable struct {
	info Info
	why  func(name string) error
}

func (u unavailable) Info() Info { return u.info }

func (u unavailable) Check(context.Context) error { return u.why(u.info.Name) }

// Open returns what Check says: there is nothing to open.
func (u unavailable) Open(ctx context.Context, _ Options) (Instance, error) {
	return nil, u.Check(ctx)
}

func (u unavailable) Variant(spec Spec) (Driver, error) {
	if err := NoChoices(spec, u.info.Family, ""); err != nil {
		return nil, err
	}
	u.info.Name = spec.Name
	return u, nil
}
