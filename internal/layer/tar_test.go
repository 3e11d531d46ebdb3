package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// tarOf writes a tar of the given headers (a regular file's content is its name repeated to Size).
func tarOf(t *testing.T, hs ...tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hs {
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestFromTar(t *testing.T) {
	data := tarOf(t,
		tar.Header{Name: "./usr/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "./usr/bin/perl5.36.0", Size: 5000, Mode: 0o755},
		tar.Header{Name: "./usr/bin/perl", Typeflag: tar.TypeLink, Linkname: "./usr/bin/perl5.36.0", Mode: 0o755},
		tar.Header{Name: "./bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"},
		tar.Header{Name: "etc/.wh.motd", Size: 0},
		tar.Header{Name: "var/cache/debconf/.wh..wh..opq", Size: 0},
		tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3},
		tar.Header{Name: "empty", Size: 0},
	)
	tr, err := FromTar("debian", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Entry{}
	for _, e := range tr.Entries {
		by[e.Path] = e
	}
	for p, k := range map[string]Kind{"usr": Dir, "usr/bin": Dir, "usr/bin/perl5.36.0": File, "usr/bin/perl": Hardlink, "bin": Symlink,
		"etc/motd": Whiteout, "etc": Dir, "var/cache/debconf": Opaque, "dev/null": Node, "empty": File} {
		if by[p].Kind != k {
			t.Errorf("%s: %v, want %v", p, by[p].Kind, k)
		}
	}
	f, l := by["usr/bin/perl5.36.0"], by["usr/bin/perl"]
	if f.Real == nil || f.Size != 5000 || f.Mode != 0o755 || l.Real != f.Real || l.ID != f.ID || f.ID == 0 {
		t.Errorf("file %+v, its hardlink %+v: want the link to carry the file's identity", f, l)
	}
	if by["usr/bin"].Implicit != true || by["usr"].Implicit {
		t.Error("usr/bin is implicit (the tar leaves it out), usr is not")
	}
	// The head of a file below 4 KiB is all of it; above, a prefix.
	if e := by["empty"]; e.Real.Head != e.Real.All {
		t.Error("an empty file's head and whole differ")
	}
	if f.Real.Head == f.Real.All {
		t.Error("a 5000-byte file's head (4 KiB) equals its whole")
	}
	// The whole-content hash is what RealOf computes.
	r, _ := RealOf(bytes.NewReader(bytes.Repeat([]byte("x"), 5000)), 5000)
	if *r != *f.Real {
		t.Errorf("RealOf %+v, FromTar %+v", r, f.Real)
	}
}

// Bad input: each is an error naming the layer, the entry and what is wrong.
func TestFromTarRefuses(t *testing.T) {
	full := tarOf(t, tar.Header{Name: "a", Size: 10000}, tar.Header{Name: "b", Size: 10})
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"dotdot", tarOf(t, tar.Header{Name: "../etc/passwd", Size: 4}), `tar entry 1 ("../etc/passwd"): a name that climbs out of the layer (..)`},
		{"inner dotdot", tarOf(t, tar.Header{Name: "usr/../../x", Size: 4}), `climbs out`},
		{"absolute", tarOf(t, tar.Header{Name: "/etc/passwd", Size: 4}), `tar entry 1 ("/etc/passwd"): an absolute name`},
		{"through symlink", tarOf(t, tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, tar.Header{Name: "etc/passwd", Size: 4}),
			`tar entry 2 ("etc/passwd"): written through the symlink etc`},
		{"hardlink out", tarOf(t, tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}), `tar entry 1 ("x"): a hardlink to "../../etc/shadow", outside the layer`},
		{"hardlink absolute", tarOf(t, tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"}), `outside the layer`},
		{"hardlink through symlink", tarOf(t, tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/"}, tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "l/etc/shadow"}),
			`a hardlink to l/etc/shadow, through the symlink l`},
		{"truncated in a file", full[:512+5000], `tar entry 1 ("a"): the tar ends in the middle of this file (truncated)`},
		{"truncated in a header", full[:512+10240+100], `tar entry 2: after "a"`},
		{"not a tar", []byte(strings.Repeat("garbage!", 200)), `tar entry 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromTar("evil", bytes.NewReader(c.data))
			var te *TarError
			if err == nil || !errors.As(err, &te) || te.Layer != "evil" || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a TarError of layer evil containing %q", err, c.want)
			}
		})
	}
}

func TestCheckThrough(t *testing.T) {
	lower := Merge([]*Tree{{Layer: "base", Entries: []Entry{{Path: "etc", Kind: Symlink, Target: "/etc"}, {Path: "usr", Kind: Dir, Mode: 0o755}}}})
	bad, _ := FromTar("evil", bytes.NewReader(tarOf(t, tar.Header{Name: "etc/passwd", Size: 4})))
	if err := CheckThrough(lower, bad); err == nil || !strings.Contains(err.Error(), `entry "etc/passwd": written through etc, a symlink (to "/etc") a lower layer made`) {
		t.Errorf("got %v", err)
	}
	// A layer that makes the directory itself replaces the link: fine.
	ok, _ := FromTar("fine", bytes.NewReader(tarOf(t, tar.Header{Name: "etc", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "etc/passwd", Size: 4}, tar.Header{Name: "usr/x", Size: 1})))
	if err := CheckThrough(lower, ok); err != nil {
		t.Error(err)
	}
}
