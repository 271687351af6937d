#!/usr/bin/env python3
"""Man pages (section 3) from the doc comments of include/sockloop.h.

usage: mkman.py HEADER FFI_DIR OUT_DIR VERSION

One page per function family, `sockloop-<family>(3)`, where a family is a file
of src/ffi/ (the order of `pub mod` lines in src/ffi/mod.rs is the order of
the families); a one-line `.so` page per function, so `man sl_send_all`
works; and `sockloop(3)`, the overview. Every word of a page comes from the
header: the file names only say which family a declaration belongs to.
Needs nothing but Python 3. The output is deterministic (no dates), so two
builds give the same pages.
"""
import os
import re
import shutil
import sys

# Titles for the families known today; a new src/ffi/<area>.rs gets its file
# name as title until it has a line here.
TITLES = {
    "io": "transfer loops: send all, receive exactly",
    "frame": "length-prefixed frames",
    "conn": "buffered connections and event-loop steps",
    "ready": "readiness waits and select without FD_SETSIZE",
    "selector": "Python's selectors in C",
    "net": "TCP connect, listen and accept",
    "unix": "Unix-domain sockets",
    "sockopt": "socket options and the graceful close",
    "interrupt": "signals: the interrupt check",
    "version": "the version of the loaded library",
    "byteorder": "byte order and unaligned access",
}


def parse_header(text):
    """[(kind, name, doc lines, declaration lines)] in header order."""
    items = []
    lines = text.splitlines()
    i = 0
    depth = 0
    while i < len(lines):
        line = lines[i]
        if depth == 0 and line.startswith("/**"):
            doc = []
            # a one-line or multi-line doxygen comment
            body = line[3:]
            while True:
                end = body.find("*/")
                if end >= 0:
                    body = body[:end]
                part = re.sub(r"^\s*\*( |$)", "", body) if body.strip().startswith("*") else body.strip()
                if part.strip() or doc:
                    doc.append(part.rstrip())
                if end >= 0:
                    break
                i += 1
                body = lines[i]
            i += 1
            while doc and not doc[-1].strip():
                doc.pop()
            decl = []
            while i < len(lines) and not lines[i].strip():
                i += 1
            if i >= len(lines):
                break
            first = lines[i]
            m = re.match(r"#define (\w+)", first)
            if m:
                items.append(("constant", m.group(1), doc, [first]))
                i += 1
                # version macros share one comment: take the run of #defines
                while i < len(lines) and lines[i].startswith("#define "):
                    name = re.match(r"#define (\w+)", lines[i]).group(1)
                    items.append(("constant", name, [], [lines[i]]))
                    i += 1
                continue
            if first.startswith("typedef struct") and first.rstrip().endswith("{"):
                while True:
                    decl.append(lines[i])
                    if lines[i].startswith("}"):
                        break
                    i += 1
                name = re.match(r"}\s*(\w+);", lines[i]).group(1)
                items.append(("struct", name, doc, decl))
                i += 1
                continue
            if first.startswith("typedef struct"):
                name = first.split()[-1].rstrip(";")
                items.append(("type", name, doc, [first]))
                i += 1
                continue
            while True:
                decl.append(lines[i])
                if lines[i].rstrip().endswith(";"):
                    break
                i += 1
            m = re.search(r"(sl_\w+)\(", " ".join(decl))
            if m:
                items.append(("function", m.group(1), doc, decl))
            i += 1
            continue
        i += 1
    return items


def families(ffi_dir):
    """[(family, {names defined in it})] in the order of src/ffi/mod.rs."""
    mod = open(os.path.join(ffi_dir, "mod.rs")).read()
    order = re.findall(r"^pub mod (\w+);", mod, re.M)
    result = []
    for fam in order:
        src = open(os.path.join(ffi_dir, fam + ".rs")).read()
        names = set(re.findall(r'extern "C" fn (sl_\w+)', src))
        names |= set(re.findall(r"pub const (SL_\w+)", src))
        names |= set(re.findall(r"pub struct (sl_\w+)", src))
        names |= set(re.findall(r"pub type (sl_\w+)", src))
        result.append((fam, names))
    return result


def roff_text(text):
    """Escapes running text for roff and turns `code` into bold."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"`([^`]+)`", lambda m: "\\fB" + m.group(1) + "\\fP", text)
    text = text.replace("-", "\\-")
    if text.startswith(".") or text.startswith("'"):
        text = "\\&" + text
    return text


def roff_code(line):
    line = line.replace("\\", "\\e").replace("-", "\\-")
    if line.startswith(".") or line.startswith("'"):
        line = "\\&" + line
    return line


def roff_doc(doc):
    """Doc comment lines as roff: paragraphs, bullet lists, indented code."""
    out = []
    in_list = False
    for raw in doc:
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            out.append(".PP")
            in_list = False
            continue
        if stripped.startswith("- "):
            out.append(".IP \\(bu 2")
            out.append(roff_text(stripped[2:]))
            in_list = True
            continue
        if in_list and line.startswith("  "):
            out.append(roff_text(stripped))
            continue
        if in_list:
            out.append(".PP")
            in_list = False
        out.append(roff_text(stripped))
    while out and out[-1] == ".PP":
        out.pop()
    return out


def page_header(name, version, summary):
    return [
        '.\\" Generated by docs/mkman.py from include/sockloop.h. Do not edit.',
        f'.TH {name.upper()} 3 "" "sockloop {version}" "sockloop manual"',
        ".SH NAME",
    ]


def family_page(fam, title, items, version):
    names = [n for k, n, _, _ in items if k == "function"] or [n for _, n, _, _ in items]
    out = page_header(f"sockloop-{fam}", version, title)
    out.append(roff_text(", ".join(names)) + " \\- " + roff_text(title))
    out += [".SH SYNOPSIS", ".nf", ".B #include <sockloop.h>", ""]
    for kind, name, _, decl in items:
        if kind == "function":
            out += [roff_code(l) for l in decl]
        elif kind == "constant":
            out.append(roff_code(decl[0]))
        elif kind == "type":
            out.append(roff_code(decl[0]))
        else:
            out.append(roff_code(decl[0]))
            out += [roff_code(l) for l in decl[1:] if l.strip() and not l.strip().startswith(("/**", "*"))]
    out += [".fi", ".PP", "Link with \\fB\\-lsockloop\\fP (\\fBpkg\\-config \\-\\-libs sockloop\\fP).",
            ".SH DESCRIPTION"]
    for kind, name, doc, decl in items:
        out.append(f".SS {roff_text(name)}")
        body = roff_doc(doc)
        if kind == "struct":
            fields = struct_fields(decl)
            body += [".PP", "Fields:"]
            for fname, fdoc in fields:
                body += [f".TP", f"\\fB{roff_text(fname)}\\fP"] + [l for l in roff_doc(fdoc) if l != ".PP"]
        out += body or ["(undocumented)"]
    out += [".SH ERRORS",
            "A call that fails returns \\-1 (or NULL, as its description says) and sets "
            "\\fIerrno\\fP to one of the values listed with it; see \\fBsockloop\\fP(3) "
            "for the meanings every function shares.",
            ".SH SEE ALSO", "\\fBsockloop\\fP(3)"]
    return out


def struct_fields(decl):
    fields, doc = [], []
    in_doc = False
    for line in decl[1:-1]:
        s = line.strip()
        if s.startswith("/**"):
            in_doc, doc = True, []
            s = s[3:]
        if in_doc:
            end = s.endswith("*/")
            s = s[:-2] if end else s
            s = re.sub(r"^\*( |$)", "", s)
            if s.strip():
                doc.append(s)
            if end:
                in_doc = False
            continue
        m = re.search(r"(\w+)(\[\w*\])?;$", s)
        if m:
            fields.append((m.group(1), doc))
            doc = []
    return fields


def overview_page(fams, loose, version):
    out = page_header("sockloop", version, "")
    out.append("sockloop \\- the socket loops every networked program needs, for C")
    out += [".SH SYNOPSIS", ".nf", ".B #include <sockloop.h>", ".fi", ".PP",
            "Link with \\fB\\-lsockloop\\fP (\\fBpkg\\-config \\-\\-cflags \\-\\-libs sockloop\\fP).",
            ".SH DESCRIPTION",
            "Whole-buffer sends and receives that survive signals, non-blocking sockets "
            "and vanishing peers; framing; readiness; connection setup. One page per family:"]
    for fam, title, items in fams:
        out += [".TP", f"\\fBsockloop\\-{roff_text(fam)}\\fP(3)", roff_text(title) + ": " +
                roff_text(", ".join(n for k, n, _, _ in items if k == "function"))]
    out += [".SH CONVENTIONS",
            "These hold for every function; each page lists a call's own return values and errno values.",
            ".IP \\(bu 2",
            "A call that can fail returns \\-1 (or NULL for a constructor) and sets \\fIerrno\\fP "
            "to a standard value, so \\fBperror\\fP(3) and \\fBstrerror\\fP(3) work.",
            ".IP \\(bu 2",
            "\\fBETIMEDOUT\\fP: the timeout ran out. \\fBEPIPE\\fP: the peer closed first. "
            "\\fBEMSGSIZE\\fP: a message over the limit. \\fBEINVAL\\fP: a bad argument. "
            "\\fBEAGAIN\\fP: only from a call with \\fItimeout_ms\\fP 0 that could not finish.",
            ".IP \\(bu 2",
            "\\fItimeout_ms\\fP is as in \\fBpoll\\fP(2): \\-1 waits forever, 0 makes one attempt, "
            "a positive value is the budget for the whole call.",
            ".IP \\(bu 2",
            "Transfer functions set their \\fIsize_t *done\\fP argument (which may be NULL) on every "
            "return: after \\fBETIMEDOUT\\fP, resume at \\fIbuf + *done\\fP.",
            ".IP \\(bu 2",
            "\\fBSIGPIPE\\fP is never raised; \\fBEINTR\\fP is retried; an fd's flags are never changed.",
            ".IP \\(bu 2",
            "Thread safety: the calls that keep no state (transfer loops, frames, readiness waits, "
            "connections, socket options, byte order, version) may run in any number of threads "
            "at once. An \\fBsl_conn\\fP or \\fBsl_selector\\fP belongs to one thread at a time."]
    if loose:
        out.append(".SH CONSTANTS")
        for kind, name, doc, decl in loose:
            out += [".TP", f"\\fB{roff_text(decl[0][len('#define '):])}\\fP"] + \
                   [l for l in roff_doc(doc) if l != ".PP"]
    out += [".SH SEE ALSO",
            ", ".join(f"\\fBsockloop\\-{roff_text(f)}\\fP(3)" for f, _, _ in fams)]
    return out


def main():
    header, ffi_dir, out_dir, version = sys.argv[1:5]
    items = parse_header(open(header).read())
    fams = families(ffi_dir)
    owner = {}
    for fam, names in fams:
        for n in names:
            owner[n] = fam
    grouped = {fam: [] for fam, _ in fams}
    loose = []
    for item in items:
        kind, name = item[0], item[1]
        fam = owner.get(name)
        if fam is None:
            if kind == "function":
                sys.exit(f"mkman: {name} is in the header but in no src/ffi/*.rs file")
            loose.append(item)
        else:
            grouped[fam].append(item)
    if not any(k == "function" for k, _, _, _ in items):
        sys.exit("mkman: no function found in the header")
    man3 = os.path.join(out_dir, "man3")
    shutil.rmtree(man3, ignore_errors=True)
    os.makedirs(man3)
    done = []
    pages = 0
    for fam, _ in fams:
        if not grouped[fam]:
            continue
        title = TITLES.get(fam, fam)
        write(os.path.join(man3, f"sockloop-{fam}.3"), family_page(fam, title, grouped[fam], version))
        pages += 1
        for kind, name, _, _ in grouped[fam]:
            if kind == "function":
                write(os.path.join(man3, f"{name}.3"), [f".so man3/sockloop-{fam}.3"])
        done.append((fam, title, grouped[fam]))
    write(os.path.join(man3, "sockloop.3"), overview_page(done, loose, version))
    functions = sum(1 for k, _, _, _ in items if k == "function")
    print(f"mkman: {pages + 1} pages ({pages} families and sockloop(3)), {functions} function links in {man3}")


def write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
