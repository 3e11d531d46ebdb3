package trace

import (
	"strconv"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/scenario"
)

// A log as strace -f -y -s 0 writes it for a program chrooted in /w/root.
const log = `99 execve("/usr/sbin/chroot", ["chroot", "/w/root", "cat"], 0x7ffd /* 3 vars */) = 0
99 openat(AT_FDCWD</>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>
99 chroot("/w/root") = 0
100 execve("/usr/bin/cat", ["cat"], 0x7ffd /* 3 vars */) = 0
100 access("/etc/ld.so.preload", R_OK) = -1 ENOENT (No such file or directory)
100 openat(AT_FDCWD</w/root>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</w/root/etc/ld.so.cache>
100 mmap(NULL, 34263, PROT_READ, MAP_PRIVATE, 3</w/root/etc/ld.so.cache>, 0) = 0x7fd175e5d000
100 close(3</w/root/etc/ld.so.cache>) = 0
100 openat(AT_FDCWD</w/root>, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3</w/root/usr/lib/x86_64-linux-gnu/libc.so.6>
100 read(3</w/root/usr/lib/x86_64-linux-gnu/libc.so.6>, ""..., 832) = 832
100 pread64(3</w/root/usr/lib/x86_64-linux-gnu/libc.so.6>, ""..., 784, 64) = 784
100 newfstatat(3</w/root/usr/lib/x86_64-linux-gnu/libc.so.6>, "", {st_mode=S_IFREG|0755, st_size=1926232, ...}, AT_EMPTY_PATH) = 0
100 read(3</w/root/usr/lib/x86_64-linux-gnu/libc.so.6>, ""..., 100) = 100
100 lseek(3</w/root/usr/lib/x86_64-linux-gnu/libc.so.6>, 4096, SEEK_SET) = 4096
100 read(3</w/root/usr/lib/x86_64-linux-gnu/libc.so.6>, ""..., 10) = 10
100 mmap(0x7fd175ca1000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3</w/root/usr/lib/x86_64-linux-gnu/libc.so.6>, 0x26000) = 0x7fd175ca1000
100 mmap(NULL, 12288, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7fd175c78000
100 chdir("/etc/apache2") = 0
101 openat(AT_FDCWD</w/root/etc/apache2>, "mods-enabled/a.load", O_RDONLY <unfinished ...>
100 openat(AT_FDCWD</w/root>, "/proc/self/maps", O_RDONLY) = 4</proc/100/maps>
101 <... openat resumed>) = 5</w/root/etc/apache2/mods-available/a.load>
101 newfstatat(AT_FDCWD</w/root/etc/apache2>, "conf.d", 0x7ffc, 0) = -1 ENOTDIR (Not a directory)
101 openat(AT_FDCWD</w/root>, "/var/log/apache2/error.log", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0640) = 6</w/root/var/log/apache2/error.log>
101 readlinkat(AT_FDCWD</w/root>, "/etc/alternatives/emacs", ""..., 4096) = 18
101 statx(AT_FDCWD</w/root>, "/dev/null", AT_STATX_SYNC_AS_STAT, STATX_ALL, 0x7ffc) = 0
--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---
+++ exited with 0 +++
`

func TestParse(t *testing.T) {
	es, err := Parse(strings.NewReader(log), "/w/root", func(p string) int64 {
		if p == "/usr/bin/cat" {
			return 44016
		}
		return -1
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		s := string(e.Op) + " " + e.Path
		if e.Op == scenario.TraceRead {
			s += " " + itoa(e.Off) + "+" + itoa(e.Len)
		}
		got = append(got, s)
	}
	want := []string{
		"stat /usr/bin/cat", "read /usr/bin/cat 0+44016", // the exec: the kernel maps the whole file
		"miss /etc/ld.so.preload",
		"open /etc/ld.so.cache", "read /etc/ld.so.cache 0+34263",
		"open /usr/lib/x86_64-linux-gnu/libc.so.6", // the file itself, through the /lib symlink
		"read /usr/lib/x86_64-linux-gnu/libc.so.6 0+832",
		"read /usr/lib/x86_64-linux-gnu/libc.so.6 64+784",
		"read /usr/lib/x86_64-linux-gnu/libc.so.6 832+100", // read() goes on from where the last one stopped
		"read /usr/lib/x86_64-linux-gnu/libc.so.6 4096+10", // after lseek
		"read /usr/lib/x86_64-linux-gnu/libc.so.6 155648+1400832",
		"open /etc/apache2/mods-available/a.load", // an unfinished call, resumed; relative to the cwd
		"miss /etc/apache2/conf.d",
		"readlink /etc/alternatives/emacs",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
