"""The catalogue of diagnostic codes: one entry per code, with an explanation.

``unilang explain CODE`` prints an entry; ``docs/diagnostics.md`` is
generated from this table (``python -m unilang.codes > docs/diagnostics.md``)
and a test keeps the two in step.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Code:
    code: str
    severity: str
    title: str
    explanation: str
    example: str = ""


def _c(code: str, severity: str, title: str, explanation: str, example: str = "") -> Code:
    return Code(code, severity, title, explanation.strip(), example.strip("\n"))


CODES: dict[str, Code] = {c.code: c for c in [
    # ------------------------------------------------------------ input
    _c("U0001", "error", "cannot read a file", """
A spec or an imported module could not be read: it does not exist, it is a
directory, permission was denied, or it is larger than the 64 MiB limit.
Check the path given on the command line or in the `import`.""", """
$ unilang check missing.uni
error[U0001]: cannot read `missing.uni`: no such file"""),
    _c("U0002", "error", "file is not valid UTF-8", """
unilang sources are UTF-8 text. The diagnostic points at the first byte that
is not valid UTF-8. Re-save the file as UTF-8."""),
    _c("U0003", "error", "file contains a NUL byte", """
A NUL byte never belongs in a text file; it usually means a binary file was
given by mistake, or the file is corrupted."""),
    _c("U0010", "error", "syntax error", """
The parser met a token it did not expect. The message lists what would have
been accepted at that point, as you would type it (`";"`, `"}"`, a name, a
string ...). Common causes: a missing `;` after a field, a nested list
(lists hold scalars only), an unquoted string.""", """
app hello {
    memory = 16 MiB      # missing `;`
    vcpus = 1;
}"""),
    _c("U0011", "error", "invalid escape sequence in a string", """
Strings accept the escapes `\\\\`, `\\"`, `\\n`, `\\t`, `\\r` and `\\u{HEX}`
(a Unicode code point, not 0). Anything else after a backslash is an error.""", r"""
app hello { cmdline = "C:\path"; }   # `\p` is not an escape: write `\\p`"""),
    # ------------------------------------------------------------ modules
    _c("U0020", "error", "imported module not found", """
`import a.b;` looks for `a/b.uni` in the spec's directory, then in
`stdlib/`, then in the selected backend's folder (`backends/<backend>/`).
`import "x/y.uni";` names a file relative to the importing file. Neither was
found, or the path cannot name a file (a name longer than 255 bytes, a path
too long for the file system). The note lists every place that was
searched.""", """
import netwrok;   # typo: no netwrok.uni anywhere"""),
    _c("U0021", "error", "import outside the search roots", """
An import may only resolve to a file inside the root it was found in (the
project root: the spec's directory, or the nearest folder above it holding a
`unilang.toml`; `stdlib/` or the backend folder). Absolute paths, `..`
that climbs out of the root, and symbolic links pointing outside are all
refused, so a spec can never pull in an arbitrary file.""", """
import "../../etc/secrets.uni";"""),
    _c("U0022", "error", "import cycle", """
Modules import each other in a cycle. The message shows the whole chain and
each link's `import` line. Move the declarations both need into a third
module that both import.""", """
# a.uni
import b;
# b.uni
import a;"""),
    # ------------------------------------------------------------ definitions
    _c("U0030", "error", "duplicate definition", """
Two declarations of the same kind have the same name (two libraries, two
constructs, two parameters of one library, two devices ...), possibly in
different modules. The label shows the first definition.""", """
construct console "A";
construct console "B";"""),
    _c("U0031", "error", "unknown name", """
A construct, capability, library or policy is referred to but never
declared in any loaded module. The help suggests the closest declared name
when there is one.""", """
app hello { sources = ["hello.c"]; requires = [consol]; }   # did you mean `console`?"""),
    _c("U0032", "error", "unknown key", """
A field name is not one of the keys that this kind of block accepts. The
note lists the accepted keys; the help suggests the closest one.

library: doc, provides, requires, sources, backends, exercises, conflicts,
init, min_memory, max_vcpus, default, rank (and `param` members).
app: doc, sources, entry, requires, memory, vcpus, cmdline, policies (and
`device`, `use` and `set` members).
policy: doc, include, deny, allow, forbid, require, max_memory, max_vcpus,
max_image_size.
net device: kind, mac, bridge. block device: kind, path, format, readonly.""", """
app hello { sources = ["hello.c"]; memroy = 16 MiB; }"""),
    _c("U0033", "error", "given more than once", """
A key, list item, provider choice or parameter override appears twice in
the same block, or a policy both denies and allows the same capability.
A file in `sources` counts once however it is named: a symbolic or hard
link to a file the list already names is the same file twice, which the
build could only compile twice. Remove one of them.""", """
app hello { sources = ["a.c"]; memory = 16 MiB; memory = 32 MiB; }"""),
    _c("U0034", "error", "type mismatch", """
A value has the wrong type. unilang never converts implicitly: a size needs
a unit (`64 MiB`, not `64`), a number is not a string (`1`, not `"1"`), a
list is written in brackets even with one item.""", """
app hello { sources = ["hello.c"]; memory = 64; }   # write `64 MiB`"""),
    _c("U0035", "error", "value out of range", """
A number or size is outside the range its key or parameter allows. For
library parameters the range is the `in LOW .. HIGH` of the `param`
declaration, and a parameter declared with `divides N` only takes positive
divisors of N (the label shows the declaration, the help the nearest values
that work); for app keys: memory 1 MiB to 1 TiB, vcpus 1 to 256; rank 0 to
1000. An `int` parameter holds -(2^63-1) to 2^63-1 and a `size` parameter 0
to 2^64-1 bytes (their C macros are 64-bit). A number of 2^64 or more is out
of every range, however many digits it has.""", """
app hello { sources = ["hello.c"]; vcpus = 0; }
app hello { sources = ["hello.c"]; set uart16550.baud = 9601; }   # must divide 115200"""),
    _c("U0036", "error", "unknown parameter", """
`set LIBRARY.PARAM = VALUE;` names a parameter that the library does not
declare, or the target is not of the form LIBRARY.PARAM. The note lists the
library's parameters.""", """
app hello { sources = ["hello.c"]; set heap.max_sise = 1 MiB; }"""),
    _c("U0037", "error", "unknown backend", """
A backend name (in `backends = [...]` or `requires on [...]`) is not one of
the backends unilang supports: kvm, xen."""),
    _c("U0038", "error", "invalid name", """
A name that reaches generated files or C code breaks a rule: app, library,
device and parameter names are at most 64 characters; init functions,
entry points and parameter names must be C identifiers; and no two
declarations may generate the same C name. Generated C turns `-` into `_`
and upper-cases macro names, so libraries `a-b` and `a_b` collide
(`UNILANG_HAVE_A_B`), as do parameters `net-stack.mtu` and `net.stack_mtu`
(`UNILANG_PARAM_NET_STACK_MTU`), enum members `fast-path` and `fast_path`,
and an enum parameter `mode` with a parameter `mode_name` (an enum also
defines `<MACRO>_NAME` and `<MACRO>_<MEMBER>`). The later declaration is
reported; the label shows the first.""", """
library net-stack { param mtu: int = 1500; }
library net { param stack_mtu: int = 1500; }   # both UNILANG_PARAM_NET_STACK_MTU"""),
    _c("U0039", "error", "missing or misplaced app", """
The spec given on the command line must declare exactly one `app`: a
second app in the same spec is this error, not a duplicate definition. An
imported module may not declare an app."""),
    _c("U0040", "error", "missing required key", """
A block lacks a key it cannot do without: an app needs `sources`, a device
needs `kind`, a block device needs `path`."""),
    _c("U0041", "error", "bad source file", """
A source path must be relative to the declaring file, use only letters,
digits, `_`, `-`, `.` and `/`, contain no `..`, end in `.c`, `.S` or `.s`,
and exist. The restriction keeps every path safe to write into build files
and shell scripts.

The file must be a regular file (not a directory, FIFO, socket or device)
whose real path, links resolved, lies inside the declaring module's root
(the project root, `stdlib/` or the backend folder), as an import's
must. Its file name may have at most 251 bytes (the build names the object
`<name>.o` and its dependency file `<name>.o.d`, and file names are limited
to 255 bytes), each folder name at most 255. The headers (`*.h`) beside a
source, which the build copies with it, follow the same rules."""),
    _c("U0042", "error", "invalid parameter declaration", """
A library's `param` is malformed: unknown type (types are int, size, bool,
string and enum(...)), no default, a default of the wrong type, outside
the range or not dividing the `divides` value, a range or `divides` on a
non-numeric type, an empty range, a `divides` value that is not positive,
or an enum that lists a member twice.""", """
library heap { param max_size: size = 1 MiB in 4 MiB .. 8 MiB; }"""),
    _c("U0043", "error", "`on` clause not allowed", """
Only a library's `requires` may be limited to some backends
(`requires on [xen] = [xen.hypercall];`)."""),
    _c("U0044", "error", "unsafe string", """
A string that reaches a generated file (kernel command line, device
properties, string parameters) contains a control character (newline, tab,
escape ...), a character that XML 1.0 cannot carry at all (U+FFFE, U+FFFF,
a surrogate: libvirt.xml would not be well-formed), or is too long. Such strings cannot be represented safely in
every format unilang writes (xl.cfg, XML, shell, JSON), so they are
rejected."""),
    _c("U0045", "error", "invalid device property", """
A device property is malformed: a MAC address must be six lower-case hex
pairs separated by `:`, a bridge name uses letters, digits, `_`, `-` and
`.`, a disk path is relative and uses letters, digits, `_`, `-`, `.` and
`/`."""),
    _c("U0046", "error", "policy include cycle", """
Policies include each other in a cycle (or a policy includes itself)."""),
    _c("U0047", "error", "bad library folder", """
Every folder below `stdlib/lib/` (and `backends/<backend>/lib/`) is one
library: it must hold `<name>.uni`, named after the folder, and that module
must declare `library <name>` and no other library. The loader finds
libraries by listing these folders, so a folder that breaks the rule would
otherwise be silently ignored or hold a library under the wrong name. The
build reports it too when two selected libraries publish the same header
in their `include/` folders. See docs/build.md, "Adding a library".""", """
stdlib/lib/ring/ring.uni:   library ringbuf { ... }   # the folder is `ring`"""),
    # ------------------------------------------------------------ resolution
    _c("U0100", "error", "no provider for a construct", """
A construct is required (by the app or a selected library) but no library
that supports this backend provides it. The chain shows who required it.
Libraries that provide it on other backends are listed in the notes."""),
    _c("U0101", "error", "ambiguous provider", """
Several libraries provide a required construct on this backend and none is
marked `default = true` or has a strictly highest `rank`. Choose one in the
app: `use LIBRARY for CONSTRUCT;`."""),
    _c("U0102", "error", "dependency cycle", """
Selected libraries require each other in a cycle, so there is no order in
which to initialise them. Every link of the chain is shown with the line
that requires the next construct."""),
    _c("U0103", "error", "conflicting libraries", """
Two selected libraries declare that they conflict (`conflicts = [...]`).
Choose other providers with `use LIBRARY for CONSTRUCT;`."""),
    _c("U0104", "error", "library does not support the backend", """
A library chosen with `use` (or pulled in otherwise) declares
`backends = [...]` without the backend being checked."""),
    _c("U0105", "error", "policy requires a construct the image lacks", """
An applied policy says `require = [CONSTRUCT]` but nothing in the image
provides it. Add it to the app's `requires`."""),
    _c("U0106", "error", "policy forbids a library", """
An applied policy lists a selected library in `forbid`. The chain shows why
the library was selected; choose another provider."""),
    _c("U0107", "error", "policy denies a capability", """
A selected library exercises a capability that an applied policy denies.
The diagnostic shows the deny rule and the chain that pulled the library
in. A policy's own `allow` overrides a deny inherited through `include`;
among the app's policies, any deny wins."""),
    _c("U0108", "error", "not enough memory", """
The app's `memory` is below the sum of the selected libraries'
`min_memory`. The notes list each library's minimum."""),
    _c("U0109", "error", "too many vcpus for a library", """
The app asks for more vcpus than a selected library's `max_vcpus`."""),
    _c("U0110", "error", "memory above a policy limit", """
The app's `memory` exceeds an applied policy's `max_memory`."""),
    _c("U0111", "error", "vcpus above a policy limit", """
The app's `vcpus` exceeds an applied policy's `max_vcpus`."""),
    _c("U0112", "error", "override for a library not in the image", """
`set LIBRARY.PARAM = ...;` names a library that resolution pruned (nothing
the app requires reaches it) on this backend. The value would be silently
ignored, so it is an error. A library that does not support this backend
(`backends = [kvm]` while checking xen), shipped or the user's, is not an
error: its `set` applies on the backends where it exists. A `set` limited
with `on` (`set lib.param = 1 on xen;`) applies only on those backends."""),
    _c("U0113", "error", "chosen library does not provide the construct", """
`use LIBRARY for CONSTRUCT;` names a library whose `provides` does not
include the construct."""),
    _c("U0114", "error", "network constructs without a network device", """
The image contains a network driver (a library providing `net.link`, reached
through `net.udp`, `net.ip` ...) but the app declares no `device NAME {
kind = net; }`, so no hypervisor configuration would give it a NIC. Add the
device. (The reverse, a net device nothing drives, is the warning U0154.)""", """
app echo { sources = ["echo.c"]; requires = [net.udp]; }"""),
    _c("U0115", "error", "sealed folder cannot be used", """
Each entry of the app's `files` names a folder whose files are sealed,
read-only, into the image. The path is relative to the declaring file, uses
only letters, digits, `_`, `-`, `.` and `/`, and may not contain `..`; the
folder must exist, be a folder (not a file), and its real path must lie
inside the spec's root, like sources.""", """
app site { sources = ["main.c"]; files = ["wwww"]; }   # the folder is `www`"""),
    _c("U0116", "error", "file cannot be sealed", """
Everything below a sealed folder goes into the image, except names that
start with `.` (hidden files such as `.gitkeep`). Each name must be carried
by a URL unescaped: letters, digits, `_`, `-`, `.` and `~`, starting with a
letter, a digit or `_`. Each entry must be a regular file or a folder, and
links are followed only while their real path stays inside the spec's root;
a broken link, a device, a FIFO or a link back to a containing folder is an
error. At most 10 problems are shown per folder, then a count of the rest.""", """
www/my page.html   # a space: rename it to my-page.html"""),
    _c("U0117", "error", "file sealed twice", """
The folders of `files` are merged into one tree, each file named by its path
below its folder (`www/css/site.css` is `css/site.css`). Two folders hold a
file with the same path, so the image could serve only one of them. Rename
or remove one."""),
    _c("U0118", "error", "too many or too large sealed files", """
An image seals at most 4096 files, each at most 64 MiB and 256 MiB in all,
and a sealed file's path (below its folder) has at most 255 bytes. The
files are loaded with the image, so they also count against the app's
`memory` and any policy's `max_image_size`."""),
    _c("U0150", "warning", "unused import", """
A project module (not stdlib or backend) is imported but none of its
definitions is used by the resolved image. Remove the import."""),
    _c("U0151", "warning", "override equals the default", """
`set LIBRARY.PARAM = VALUE;` sets a parameter to its declared default.
The line has no effect; remove it, or keep it deliberately to pin the value
against future changes of the default."""),
    _c("U0152", "warning", "allow rule with no effect", """
An applied policy allows a capability that no selected library exercises."""),
    _c("U0153", "warning", "provider choice with no effect", """
`use LIBRARY for CONSTRUCT;` chooses a provider for a construct that nothing
requires on this backend, so the choice changes nothing. `use` and `set`
that name a library only another backend declares are skipped silently on
this backend: they apply where the library exists.""", """
app hello { sources = ["hello.c"]; requires = [console]; use heap for mem.alloc; }"""),
    _c("U0154", "warning", "network device without network constructs", """
The app declares a `kind = net` device, but nothing it requires reaches a
network driver (a library providing `net.link`): the hypervisor would give
the guest a NIC it never uses. Require a network construct (`net.udp` ...)
or remove the device. (The reverse is the error U0114.)""", """
app echo { sources = ["echo.c"]; requires = [console]; device net0 { kind = net; } }"""),
    _c("U0155", "error", "malformed port", """
A port in a policy's `listen` or an app's or library's `listens` is written
`PROTO:PORT` or `PROTO:LOW-HIGH`, where PROTO is `udp` or `tcp` and ports
are 1 to 65535. In a library, `PROTO:PARAM` names one of the library's int
parameters instead (an `http` server listening on its `port`); the
parameter's range must lie within 1 .. 65535. The message says which part
is wrong.""", """
policy web { listen = ["udp:70000"]; }   # ports are 1 to 65535"""),
    _c("U0156", "error", "malformed peer range", """
A `peers` entry of a policy is an IPv4 range `A.B.C.D/LEN` (LEN 0 to 32) or a
single address `A.B.C.D` (a /32). The address must be the start of its
range: `10.0.2.1/24` has host bits set, and the message gives the range it
probably means (`10.0.2.0/24`).""", """
policy lan { peers = ["10.0.2.1/24"]; }"""),
    _c("U0157", "error", "listening on a port a policy does not allow", """
The app (`listens = [...]`) or a selected library (its `listens`, such as
dhcp's `udp:68`) listens on a port that an applied policy, or a policy it
includes, leaves out of its `listen`. Every policy that sets `listen`
restricts the image: a port must be allowed by all of them. At run time
the same table makes `unilang_udp_bind` return `UNILANG_NET_EPOLICY`; the
check catches what the spec declares before anything is built.""", """
policy web { listen = ["tcp:80"]; }
app echo { sources = ["echo.c"]; requires = [net.udp]; listens = ["udp:7"];
           policies = [web]; device net0 { kind = net; } }"""),
    _c("U0158", "error", "sending forbidden, but a library must send", """
An applied policy says `send = false` (the image may receive but never
send an IPv4 packet), and a selected library declares `sends = true`: it
cannot work without sending (the `dhcp` client must send DISCOVER and
REQUEST to get an address). Choose another provider (`use ipv4 for
net.addr;`) or drop `send = false`."""),
    _c("U0159", "warning", "network rule with no effect", """
An applied policy sets `listen`, `peers` or `send`, or the app declares
`listens`, but nothing in the image provides `net.ip`, the layer that
enforces the rules at run time: the image has no network stack, so the
rule changes nothing. (To keep the network libraries out of an image
altogether, apply `offline`.)""", """
policy web { listen = ["udp:7"]; }
app hello { sources = ["hello.c"]; requires = [console]; policies = [web]; }"""),
    # ------------------------------------------------------------ build
    _c("U0200", "error", "build tool missing", """
A tool the build needs (gcc, ld, ninja, qemu-system-x86_64) was not found.
Install it (Debian: `apt-get install gcc binutils qemu-system-x86`)."""),
    _c("U0201", "error", "compilation or link failed", """
Compiling or linking the image failed. The tool's own output follows the
diagnostic. Earlier build outputs are left untouched."""),
    _c("U0202", "error", "image verification failed", """
The linked image broke a property unilang guarantees: a segment both
writable and executable, no PVH note in a 4-byte aligned PT_NOTE, an entry
point outside the text segment, or a size above a policy's
`max_image_size`. No image is left in the output."""),
    _c("U0203", "error", "guest timed out", """
`unilang run` killed the guest after `--timeout` seconds."""),
    _c("U0204", "error", "cannot write outputs", """
The output directory could not be written, or a value could not be written
safely into one of the generated files."""),
    _c("U0205", "error", "guest or QEMU failed", """
`unilang run` could not get an exit code from the guest: QEMU failed to
start (its messages are in the notes), or the guest stopped without writing
its exit code (a reset or a triple fault). With `--accel kvm`, also when the
KVM device does not open, or when QEMU cannot run a guest with KVM on this
host (some nested hosts: QEMU aborts with `failed to set MSR 0x10a`);
`--accel auto` falls back to TCG in both cases."""),
    _c("U0206", "error", "output directory refused", """
A build writes only into a directory that is new, empty, or already
unilang's: one holding the marker file `.unilang-output`, which lists the
files unilang wrote there. It refuses any other non-empty directory, the
spec's own folder and the current directory, so a build can never delete or
overwrite a file it did not write. In a directory it owns, files unilang did
not write are kept; a subdirectory or other non-regular file unilang did not
write is refused, since it cannot be carried over safely.""", """
$ mkdir keep; echo x > keep/notes.txt
$ unilang build hello.uni -o keep
error[U0206]: output directory `keep` is not empty and was not written by unilang"""),
    _c("U0207", "error", "backend folder incomplete", """
A backend is a folder `backends/<name>/` holding `backend.uni` (its own
module; its platform libraries are folders below `lib/`), `backend.toml` (its platform facts: how QEMU boots its images and
which files a build emits) and `image.lds.j2` (its linker script), plus a
template `NAME.j2` for every file it emits that `stdlib/templates` does not
provide. The message says which piece is missing or wrong. See
docs/build.md, "Adding a backend"."""),
    _c("U0208", "error", "memory smaller than the image", """
The linked image does not fit in the app's `memory`. The image is loaded at
1 MiB and its footprint runs from address 0 to the end of its highest
loaded segment, which includes the stacks and `.bss` with, in it, the page
tables. With less RAM than that the guest still boots, but its writes
above the end of RAM are lost or it triple-faults, so the build stops
after linking and writes nothing to the output directory. A large static
array is the usual cause; raise `memory` (the help gives the smallest whole
MiB), remembering that the heap takes the RAM above the image.""", """
app big { sources = ["big.c"]; memory = 4 MiB; }   # big.c: static char buf[4 << 20];"""),
    _c("U0209", "error", "not enough host memory", """
`unilang run` compares the app's `memory` with what this host can give a
new process before it starts QEMU: `MemAvailable` in /proc/meminfo, and the
address-space limit (`RLIMIT_AS`, `ulimit -v`) when one is set. When the
guest needs more, nothing is started; the message gives both sizes. Lower
`memory` in the spec, or free memory on the host."""),
    _c("U0210", "error", "port forward without a network device", """
`unilang run --forward PROTO:HOSTPORT:GUESTPORT` forwards a host port on
127.0.0.1 to the guest through QEMU user networking, which needs a NIC: the
app must declare `device NAME { kind = net; }` (and require the network, or
the device is U0154) on a backend whose `[qemu] net` gives QEMU one."""),
    _c("U0214", "error", "not a unilang image", """
`unilang inspect` reads 64-bit little-endian ELF images, as `unilang build`
writes them (`<app>.elf`). The file given is not one: it does not start
with the ELF magic, is of another class, or its program headers lie
outside the file.""", """
$ unilang inspect build/hello/kvm/manifest.json
error[U0214]: `build/hello/kvm/manifest.json`: not an ELF file"""),
    _c("U0215", "error", "no readable manifest note", """
A unilang image describes itself in an ELF note (name `unilang`, type 1, a
JSON document) in a PT_NOTE segment. The image has no such note (it was
not built by unilang), or the note is damaged: the segment or a note in it
claims more bytes than the file holds (a truncated copy), or the document
is not UTF-8 JSON with the keys `app`, `backend`, `libraries` and
`policies`. Nothing read from a damaged note is shown."""),
    _c("U0216", "error", "manifest and image disagree", """
`unilang inspect` found `manifest.json` beside the image and compared the
two: the manifest's `sha256` and `size` with the image file, and its app,
backend, memory, vcpus, cmdline, libraries, parameters, policy verdicts,
run-time rules and protections with the note inside the image. Each
difference is a note. The note is part of the image, so the image's sha256
covers it: a manifest whose hash does not match describes another build
(a stale copy, or a changed image). The image's own description is still
printed before the error."""),
    _c("U0217", "error", "cannot write a formatted file", """
`unilang fmt` formats a file into a temporary file beside it, then renames
it over the original, so the file is only ever whole: the old text or the
new. That failed: the folder is not writable, the disk is full, or the file
is read-only for you. The file is left as it was; the message says why.
Fix the permissions (or free space) and run `unilang fmt` again, or run
`unilang fmt --check` to only list what would change."""),
    _c("U0223", "error", "OCI layout directory refused", """
`unilang package --oci DIR` writes only into a directory that is new, empty,
or an OCI image layout unilang wrote before: one whose `.unilang-output`
marker says `"kind": "oci-layout"` and lists the files unilang wrote there.
It refuses any other non-empty directory (including a build's output
directory), the spec's own folder, the current directory and the build's
output directory, so it never overwrites or deletes a file it did not
write. In a layout it owns, it also refuses to replace a blob, `blobs`
folder or `oci-layout` file that is not a regular file or directory it
wrote; images other tools added to the index are kept.""", """
$ mkdir keep; echo x > keep/notes.txt
$ unilang package hello.uni -b kvm --oci keep
error[U0223]: `keep` is not empty and is not an OCI layout unilang wrote"""),
    _c("U0224", "error", "package option not valid", """
An option of `unilang package` cannot be used: `--hypervisor` names a
monitor that does not boot the backend's images (its `[oci] hypervisors`
in `backend.toml`: qemu or firecracker for kvm, xen for xen), the backend
names no hypervisors at all, `SOURCE_DATE_EPOCH` is not a whole number of
seconds, or `--revision` / `--unikernel-type` is not a plain name.""", """
$ unilang package hello.uni -b xen --oci oci --hypervisor firecracker
error[U0224]: `--hypervisor firecracker` cannot boot a xen image"""),
    _c("U0225", "error", "OCI index damaged", """
The `index.json` of an OCI layout unilang wrote can no longer be read as an
image index (not JSON, no `schemaVersion` 2, `manifests` not a list of
descriptors). unilang keeps every image an index lists, including those
other tools added, so it does not overwrite a damaged one: repair it or
remove the directory."""),
    _c("U0226", "error", "cannot package the build", """
Packaging could not read the build's outputs (the image, `manifest.json`
and configurations in the build's output directory), found the image not
matching its manifest (another build replaced it meanwhile), or could not
write the OCI layout (the message gives the system's reason). A layout that
was being written stays readable: each file is replaced whole, blobs before
the index that names them."""),
    _c("U0227", "error", "two specs of one build make the same app", """
`unilang build A.uni B.uni ...` puts each app's outputs in
`build/<app>/<backend>/` (or `DIR/<app>/<backend>/` with `-o DIR`), so two
specs declaring an app of the same name would write the same output
directory. The first spec on the command line is built; the other is not.
Rename one of the apps, or build them one at a time with their own `-o`.""", """
$ unilang build hello.uni copy/hello.uni -b kvm
error[U0227]: `copy/hello.uni` and `hello.uni` both declare app `hello`; only `hello.uni` is built"""),
    _c("U0228", "error", "CC cannot be used", """
The `CC` environment variable names the compiler a build runs, optionally
after wrapper programs: `CC=gcc-12`, `CC="ccache gcc"`, `CC="distcc gcc"`.
Its value is split into words with shell quoting rules (no shell runs), and
every word must be a program found on PATH or a path to an executable;
the last word is the compiler. A word that is not found, an option such as
`-m64` (unilang passes its own flags) or unbalanced quotes stop the build
before anything is written. An empty `CC` means `gcc`.""", """
$ CC="cache gcc" unilang build hello.uni
error[U0228]: `CC=cache gcc` names `cache`, which is not found on PATH"""),
    _c("U0229", "warning", "spec or backend given twice", """
A `build` command line named the same spec (the same file, however it was
spelled) or the same backend more than once. Each app is built once per
backend; the repeat is ignored."""),
    _c("U0230", "error", "output root of a set is an output directory", """
With several specs or backends, `-o DIR` is the root under which each app's
outputs go (`DIR/<app>/<backend>/`), as `build/` is without `-o`. DIR is
already the output directory of a single build (it holds `.unilang-output`);
putting other outputs inside it would make that directory refuse its next
build. Name another directory for the set."""),
    _c("U0211", "error", "sealed file changed during the build", """
A file of a sealed folder (`files`) could not be read when the build copied
it into the image, or its size differs from what `check` saw a moment
before: it was changed, replaced or removed while unilang ran. Nothing was
written to the output directory; run the build again."""),
    _c("U0999", "error", "internal compiler error", """
unilang itself failed. This is a bug: please report it with the spec that
triggers it. The exit code is 3."""),
]}


def markdown() -> str:
    out = ["# Diagnostics", "",
           "Every diagnostic unilang emits has a code. `unilang explain CODE` prints the",
           "entry below. Errors make `unilang check` exit 1; warnings do not, unless",
           "`--werror` is given. (This file is generated by `python -m unilang.codes`.)", "",
           "Diagnostics show what a spec says without letting a terminal act on it: in",
           "source excerpts, messages, notes and file names, every control character",
           "(U+0000-U+001F, U+007F-U+009F), the line and paragraph separators and the",
           "bidirectional formatting characters are written as escapes, `\\x1b` below",
           "U+0100 and `\\u202e` above, except that an excerpt shows a tab as 4 spaces;",
           "the carets under an excerpt follow the widened text. (A backslash in the",
           "source is shown as it is.) `--format json` keeps the text as data, with the",
           "same characters as JSON `\\u` escapes. Lines end at LF, CRLF or a lone CR",
           "alike, in line:column positions and in excerpts.", ""]
    for c in CODES.values():
        out += [f"## {c.code}: {c.title} ({c.severity})", "", c.explanation, ""]
        if c.example:
            out += ["```", c.example, "```", ""]
    return "\n".join(out)


def explain(code: str) -> str | None:
    c = CODES.get(code.upper())
    if c is None:
        return None
    text = f"{c.code}: {c.title} ({c.severity})\n\n{c.explanation}\n"
    if c.example:
        text += "\nExample:\n\n" + "\n".join("    " + line for line in c.example.split("\n")) + "\n"
    return text


if __name__ == "__main__":
    print(markdown(), end="")
