//! The kernel linker's machine-dependent half for an amd64 module, as FreeBSD's
//! sys/kern/link_elf_obj.c and sys/amd64/amd64/elf_machdep.c do it: validate the ELF
//! relocatable object, lay its allocated sections out in one mapping, place `set_vnet` in
//! the kernel's VNET module space, resolve `__start_set_X`/`__stop_set_X` from the
//! module's own sections, relocate (local symbols first, then the kernel dependency check,
//! then everything else), protect the pages, and hand the linker sets to the kernel's
//! machine-independent half (kern/k_linker.c: sysctls, sysinits, MOD_LOAD).
//!
//! Differences from FreeBSD, all on the refusing side: the file's OS/ABI must be FreeBSD
//! (FreeBSD does not check it); a relocation whose value does not fit its field is refused
//! (FreeBSD truncates it silently, relying on KERNBASE placement); all missing symbols are
//! listed at once.
//!
//! The module is mapped below 2 GiB (the harness executable is non-PIE, at its link
//! address), at a new address on every load: an unloaded module's pages stay mapped
//! PROT_NONE, so a call into unloaded code faults instead of running stale bytes.

use std::ffi::{c_char, c_ulong, CString};
use std::sync::Mutex;

use object::elf;
use object::read::elf::{FileHeader, Rela, SectionHeader, Sym};
use object::LittleEndian as LE;

use crate::kapi::{self, HkKld, HkLinkerSet};

/// The module area: a window below 2 GiB (the kernel code model's relocations must fit
/// in 32 bits) reserved at start-up, where each load takes a fresh slot.
static AREA: Mutex<(u64, u64)> = Mutex::new((0, 0));
/// Slot granularity.
const STRIDE: u64 = 0x0010_0000;
/// Room left above the brk heap for its growth.
const HEAP_ROOM: u64 = 0x1000_0000;
const LOW: u64 = 0x0100_0000;
const HIGH: u64 = 0x8000_0000;

/// Reserves the module area at start-up (inaccessible, no memory committed): the largest
/// free window in [16 MiB, 2 GiB) of the address space, leaving room for the brk heap
/// (whose start is randomized and may lie anywhere in that range) to grow, so that
/// nothing else of the process takes an address a later load needs.
pub fn reserve() {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut used: Vec<(u64, u64)> = maps
        .lines()
        .filter_map(|l| {
            let range = l.split_whitespace().next()?;
            let (a, b) = range.split_once('-')?;
            let (a, mut b) = (u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?);
            if l.ends_with("[heap]") {
                b = b.saturating_add(HEAP_ROOM);
            }
            Some((a, b))
        })
        .collect();
    used.sort_unstable();
    let (mut best, mut cur) = ((0u64, 0u64), LOW);
    for (a, b) in used.iter().copied().chain(std::iter::once((HIGH, HIGH))) {
        let end = a.min(HIGH);
        if end > cur && end - cur > best.1 - best.0 {
            best = (cur, end);
        }
        cur = cur.max(b);
    }
    let (start, end) = ((best.0 + STRIDE - 1) & !(STRIDE - 1), best.1 & !(STRIDE - 1));
    if end <= start || end - start < 64 * STRIDE {
        crate::host::fatal(&format!("no room for the module area below 2 GiB:\n{maps}"));
    }
    // SAFETY: a PROT_NONE reservation of a free window (MAP_FIXED_NOREPLACE fails
    // instead of replacing anything).
    let p = unsafe {
        libc::mmap(
            start as *mut libc::c_void,
            (end - start) as usize,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p as u64 != start {
        crate::host::fatal(&format!("cannot reserve the module area {start:#x}-{end:#x}:\n{maps}"));
    }
    if let Ok(mut a) = AREA.lock() {
        *a = (start, end);
    }
}

const PAGE: u64 = 4096;
// e_ident indices.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_VERSION: usize = 6;
const EI_OSABI: usize = 7;

struct SymInfo {
    addr: u64,
    size: u64,
    name: String,
}

pub struct Loaded {
    pub filename: String,
    pub base: u64,
    pub size: u64,
    kld: Box<HkKld>,
    _set_names: Vec<CString>,
    _fname: CString,
    vnet: (u64, u64),
    syms: Vec<SymInfo>,
}

// SAFETY: the raw pointers inside (the kernel's view of the file) point into fields of
// the same Loaded value or into the module mapping; they are only dereferenced by the
// kernel while the loader state is locked or the value is owned by the caller.
unsafe impl Send for Loaded {}

struct LoaderState {
    /// Bytes of the module area used by earlier loads (each load takes fresh slots).
    count: u64,
    current: Option<Loaded>,
    /// Symbol tables of unloaded modules (to name a stale address in a fault report).
    gone: Vec<(u64, u64, Vec<SymInfo>)>,
}

static STATE: Mutex<LoaderState> = Mutex::new(LoaderState { count: 0, current: None, gone: Vec::new() });

fn state() -> std::sync::MutexGuard<'static, LoaderState> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why a file cannot be loaded, with kldload's errno.
#[derive(Debug)]
pub struct LoadError {
    pub errno: i32,
    pub msg: String,
}

fn err(errno: i32, msg: impl Into<String>) -> LoadError {
    LoadError { errno, msg: msg.into() }
}

const ENOEXEC: i32 = 8;
const ENOENT: i32 = 2;
const EEXIST: i32 = 17;
const ENOSPC: i32 = 28;
const ENOMEM: i32 = 12;

struct Section {
    addr: u64,
    size: u64,
    name: String,
    flags: u64,
    loaded: bool,
    is_vnet: bool,
}

/// A symbol's value once sections are placed; None for an undefined symbol.
fn defined_value(sym: &elf::Sym64<LE>, secs: &[Section]) -> Option<u64> {
    let shndx = sym.st_shndx(LE);
    match shndx {
        elf::SHN_UNDEF => None,
        elf::SHN_ABS => Some(sym.st_value(LE)),
        elf::SHN_COMMON => None,
        i => {
            let s = secs.get(i as usize)?;
            if !s.loaded {
                return Some(0);
            }
            Some(s.addr.wrapping_add(sym.st_value(LE)))
        }
    }
}

/// Checks the header as link_elf_load_file does (plus OS/ABI, see the module doc).
pub fn check_header(data: &[u8]) -> Result<(), LoadError> {
    if data.len() < 64 || &data[0..4] != b"\x7fELF" {
        return Err(err(ENOEXEC, "not an ELF file"));
    }
    if data[EI_CLASS] != elf::ELFCLASS64 || data[EI_DATA] != elf::ELFDATA2LSB {
        return Err(err(ENOEXEC, "Unsupported file layout (not ELF64 little-endian)"));
    }
    if data[EI_VERSION] != elf::EV_CURRENT {
        return Err(err(ENOEXEC, "Unsupported file version"));
    }
    if data[EI_OSABI] != elf::ELFOSABI_FREEBSD {
        return Err(err(
            ENOEXEC,
            format!("OS/ABI is {} (FreeBSD is {}): not a FreeBSD object", data[EI_OSABI], elf::ELFOSABI_FREEBSD),
        ));
    }
    let hdr = elf::FileHeader64::<LE>::parse(data).map_err(|e| err(ENOEXEC, format!("bad ELF header: {e}")))?;
    if hdr.e_version(LE) != u32::from(elf::EV_CURRENT) {
        return Err(err(ENOEXEC, "Unsupported file version"));
    }
    if hdr.e_type(LE) != elf::ET_REL {
        return Err(err(ENOEXEC, format!("unsupported file type {} (not ET_REL: FreeBSD's linker would answer ENOSYS and try another class)", hdr.e_type(LE))));
    }
    if hdr.e_machine(LE) != elf::EM_X86_64 {
        return Err(err(ENOEXEC, format!("Unsupported machine {} (not x86-64)", hdr.e_machine(LE))));
    }
    if hdr.e_shentsize(LE) as usize != std::mem::size_of::<elf::SectionHeader64<LE>>() || hdr.e_shoff(LE) == 0 {
        return Err(err(ENOEXEC, "bad section header table"));
    }
    Ok(())
}

fn reloc_name(t: u32) -> String {
    match t {
        elf::R_X86_64_64 => "R_X86_64_64".into(),
        elf::R_X86_64_PC32 => "R_X86_64_PC32".into(),
        elf::R_X86_64_PLT32 => "R_X86_64_PLT32".into(),
        elf::R_X86_64_32S => "R_X86_64_32S".into(),
        elf::R_X86_64_32 => "R_X86_64_32".into(),
        elf::R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL".into(),
        elf::R_X86_64_GOTPCRELX => "R_X86_64_GOTPCRELX".into(),
        elf::R_X86_64_REX_GOTPCRELX => "R_X86_64_REX_GOTPCRELX".into(),
        t => format!("type {t}"),
    }
}

/// Loads `path` (kldload): returns the kldload errno with a message on refusal.
pub fn load(path: &str) -> Result<(), LoadError> {
    let data = std::fs::read(path).map_err(|e| err(ENOENT, format!("{path}: {e}")))?;
    let filename = std::path::Path::new(path).file_name().map_or_else(|| path.to_string(), |f| f.to_string_lossy().into_owned());
    if state().current.is_some() {
        return Err(err(EEXIST, "a module is already loaded (the harness loads one at a time)"));
    }
    check_header(&data)?;
    let hdr = elf::FileHeader64::<LE>::parse(&*data).map_err(|e| err(ENOEXEC, format!("{e}")))?;
    let sections = hdr.sections(LE, &*data).map_err(|e| err(ENOEXEC, format!("section headers: {e}")))?;
    let nsymtab = sections.iter().filter(|s| s.sh_type(LE) == elf::SHT_SYMTAB).count();
    if nsymtab != 1 {
        return Err(err(ENOEXEC, "file must have exactly one symbol table"));
    }
    let symtab = sections.symbols(LE, &*data, elf::SHT_SYMTAB).map_err(|e| err(ENOEXEC, format!("file has invalid symbol strings: {e}")))?;

    // Layout.
    let mut secs: Vec<Section> = Vec::new();
    let mut off: u64 = 0;
    for s in sections.iter() {
        let name = String::from_utf8_lossy(sections.section_name(LE, s).unwrap_or(b"")).into_owned();
        let t = s.sh_type(LE);
        let flags = s.sh_flags(LE);
        let size = s.sh_size(LE);
        let loadable = matches!(t, elf::SHT_PROGBITS | elf::SHT_NOBITS | elf::SHT_INIT_ARRAY | elf::SHT_FINI_ARRAY | elf::SHT_X86_64_UNWIND)
            && flags & u64::from(elf::SHF_ALLOC) != 0
            && size != 0;
        let is_vnet = loadable && name == "set_vnet";
        if loadable && name == "set_pcpu" {
            return Err(err(ENOEXEC, "set_pcpu (DPCPU data) is not modelled by the harness"));
        }
        let mut addr = 0;
        if loadable && !is_vnet {
            let align = s.sh_addralign(LE).max(1);
            if !align.is_power_of_two() {
                return Err(err(ENOEXEC, format!("section {name}: alignment {align}")));
            }
            off = (off + align - 1) & !(align - 1);
            addr = off;
            off += size;
        }
        secs.push(Section { addr, size, name, flags, loaded: loadable, is_vnet });
    }
    if !secs.iter().any(|s| s.loaded) {
        return Err(err(ENOEXEC, "file has no contents"));
    }
    let size = (off + PAGE - 1) & !(PAGE - 1);

    // Mapping below 2 GiB.
    let (area_start, area_end) = AREA.lock().map(|a| *a).unwrap_or((0, 0));
    let base = area_start + state().count;
    if area_start == 0 || base + size > area_end {
        return Err(err(ENOMEM, "out of module address space below 2 GiB"));
    }
    // SAFETY: an anonymous private mapping replacing part of the module area reserved
    // by reserve() (never used before: each load takes a fresh slot).
    let p = unsafe {
        libc::mmap(
            base as *mut libc::c_void,
            size as usize,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p as u64 != base {
        return Err(err(ENOMEM, format!("cannot map {size:#x} bytes at {base:#x}")));
    }
    state().count += (size + STRIDE - 1) & !(STRIDE - 1);
    for s in secs.iter_mut() {
        if s.loaded && !s.is_vnet {
            s.addr += base;
        }
    }
    // set_vnet: in the kernel's VNET module space (the master copy).
    let mut vnet = (0u64, 0u64);
    for (i, s) in sections.iter().enumerate() {
        let sec = &mut secs[i];
        if !sec.loaded {
            continue;
        }
        if sec.is_vnet {
            // SAFETY: a kernel call on the script thread holding the CPU.
            let a = unsafe { kapi::hk_vnet_data_alloc(sec.size as c_ulong) } as u64;
            if a == 0 {
                return Err(err(ENOSPC, format!("vnet module space is out of space; cannot allocate {:#x} for {filename}", sec.size)));
            }
            sec.addr = a;
            vnet = (a, sec.size);
        }
        let dst = sec.addr as *mut u8;
        if s.sh_type(LE) == elf::SHT_NOBITS {
            // SAFETY: dst..dst+size lies in our mapping or in the VNET master area the
            // kernel just allocated for this section.
            unsafe { std::ptr::write_bytes(dst, 0, sec.size as usize) };
        } else {
            let bytes = s.data(LE, &*data).map_err(|e| err(ENOEXEC, format!("section {}: {e}", sec.name)))?;
            // SAFETY: as above; bytes.len() == size for PROGBITS.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len().min(sec.size as usize)) };
        }
    }

    // Symbols: values, and the undefined ones resolved (linker sets first).
    let strings = symtab.strings();
    let nsyms = symtab.len();
    let mut values: Vec<Option<u64>> = vec![None; nsyms];
    let mut names: Vec<String> = vec![String::new(); nsyms];
    let mut missing: Vec<String> = Vec::new();
    let mut syminfo = Vec::new();
    for (i, sym) in symtab.iter().enumerate() {
        let name = String::from_utf8_lossy(sym.name(LE, strings).unwrap_or(b"")).into_owned();
        values[i] = defined_value(sym, &secs);
        if let Some(v) = values[i] {
            let st = sym.st_type();
            if (st == elf::STT_FUNC || st == elf::STT_OBJECT) && !name.is_empty() {
                syminfo.push(SymInfo { addr: v, size: sym.st_size(LE), name: name.clone() });
            }
        }
        names[i] = name;
    }
    // Which undefined symbols the relocations need.
    let mut needed = vec![false; nsyms];
    for s in sections.iter() {
        if s.sh_type(LE) != elf::SHT_RELA {
            continue;
        }
        let target = s.sh_info(LE) as usize;
        if !secs.get(target).is_some_and(|t| t.loaded) {
            continue;
        }
        let relas: &[elf::Rela64<LE>] = s.data_as_array(LE, &*data).map_err(|e| err(ENOEXEC, format!("relocations: {e}")))?;
        for r in relas {
            let t = r.r_type(LE, false);
            if !matches!(t, elf::R_X86_64_NONE | elf::R_X86_64_64 | elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 | elf::R_X86_64_32S) {
                // SAFETY: munmap of our own fresh mapping.
                unsafe { libc::munmap(base as *mut libc::c_void, size as usize) };
                return Err(err(
                    ENOEXEC,
                    format!("unexpected relocation type {} ({}) in {} (FreeBSD's amd64 kernel linker handles 64, PC32, PLT32 and 32S)", t, reloc_name(t), secs[target].name),
                ));
            }
            let idx = r.r_sym(LE, false) as usize;
            if idx < nsyms {
                needed[idx] = true;
            }
        }
    }
    for (i, sym) in symtab.iter().enumerate() {
        if values[i].is_some() || i == 0 || !needed[i] {
            continue;
        }
        let name = &names[i];
        // __start_set_X / __stop_set_X: bounds of the module's own section X.
        let set = name.strip_prefix("__start_").map(|n| (n, false)).or_else(|| name.strip_prefix("__stop_").map(|n| (n, true)));
        if let Some((secname, stop)) = set {
            if let Some(s) = secs.iter().find(|s| s.loaded && s.name == secname) {
                values[i] = Some(if stop { s.addr + s.size } else { s.addr });
                continue;
            }
        }
        let c = kapi::cstr(name);
        // SAFETY: a lookup in the kernel's symbol table.
        let a = unsafe { kapi::hk_kernel_symbol(c.as_ptr()) } as u64;
        if a != 0 {
            values[i] = Some(a);
        } else if sym.st_bind() == elf::STB_WEAK {
            values[i] = Some(0);
        } else {
            missing.push(name.clone());
        }
    }

    // Relocation, local symbols first.
    let apply = |local_pass: bool, values: &Vec<Option<u64>>| -> Result<(), LoadError> {
        for s in sections.iter() {
            if s.sh_type(LE) != elf::SHT_RELA {
                continue;
            }
            let target = s.sh_info(LE) as usize;
            let Some(tsec) = secs.get(target) else { continue };
            if !tsec.loaded {
                continue;
            }
            let relas: &[elf::Rela64<LE>] = s.data_as_array(LE, &*data).map_err(|e| err(ENOEXEC, format!("{e}")))?;
            for r in relas {
                let idx = r.r_sym(LE, false) as usize;
                let Ok(sym) = symtab.symbol(object::SymbolIndex(idx)) else { continue };
                let is_local = sym.st_bind() == elf::STB_LOCAL;
                if is_local != local_pass {
                    continue;
                }
                let t = r.r_type(LE, false);
                if t == elf::R_X86_64_NONE {
                    continue;
                }
                let Some(sv) = values[idx] else {
                    return Err(err(ENOENT, format!("link_elf_obj: symbol {} undefined", names[idx])));
                };
                let a = r.r_addend(LE);
                let off = r.r_offset(LE);
                let width = if t == elf::R_X86_64_64 { 8 } else { 4 };
                if off.checked_add(width).is_none_or(|e| e > tsec.size) {
                    return Err(err(ENOEXEC, format!("relocation offset {off:#x} outside section {}", tsec.name)));
                }
                let place = tsec.addr + off;
                let v = (sv as i64).wrapping_add(a);
                match t {
                    elf::R_X86_64_64 => {
                        // SAFETY: place is inside the loaded section (checked above).
                        unsafe { (place as *mut u64).write_unaligned(v as u64) };
                    }
                    elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 => {
                        let rel = v.wrapping_sub(place as i64);
                        if rel < i64::from(i32::MIN) || rel > i64::from(i32::MAX) {
                            return Err(err(ENOEXEC, format!("relocation {} to {} does not fit (offset {rel:#x})", reloc_name(t), names[idx])));
                        }
                        // SAFETY: as above.
                        unsafe { (place as *mut i32).write_unaligned(rel as i32) };
                    }
                    elf::R_X86_64_32S => {
                        if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) {
                            return Err(err(ENOEXEC, format!("relocation R_X86_64_32S to {} does not fit ({v:#x})", names[idx])));
                        }
                        // SAFETY: as above.
                        unsafe { (place as *mut i32).write_unaligned(v as i32) };
                    }
                    _ => return Err(err(ENOEXEC, format!("unexpected relocation type {t}"))),
                }
            }
        }
        Ok(())
    };

    let fname = kapi::cstr(&filename);
    let mut set_names = Vec::new();
    let mut kld = Box::new(HkKld {
        filename: fname.as_ptr(),
        base: base as c_ulong,
        size: size as c_ulong,
        text_start: 0,
        text_end: 0,
        nsets: 0,
        sets: [HkLinkerSet { name: std::ptr::null(), start: 0, stop: 0 }; 16],
        vnet_start: vnet.0 as c_ulong,
        vnet_size: vnet.1 as c_ulong,
    });
    for s in &secs {
        if s.loaded && s.flags & u64::from(elf::SHF_EXECINSTR) != 0 {
            if kld.text_start == 0 || (s.addr as c_ulong) < kld.text_start {
                kld.text_start = s.addr as c_ulong;
            }
            kld.text_end = kld.text_end.max((s.addr + s.size) as c_ulong);
        }
        if s.loaded && s.name.starts_with("set_") && (kld.nsets as usize) < 16 {
            let c = kapi::cstr(&s.name["set_".len()..]);
            let i = kld.nsets as usize;
            kld.sets[i] = HkLinkerSet { name: c.as_ptr(), start: s.addr as c_ulong, stop: (s.addr + s.size) as c_ulong };
            kld.nsets += 1;
            set_names.push(c);
        }
    }
    let mut ebuf = vec![0u8; 512];
    let cleanup = |vnet: (u64, u64)| {
        if vnet.0 != 0 {
            // SAFETY: giving back the VNET space this load took.
            unsafe { kapi::hk_vnet_data_free(vnet.0 as *mut libc::c_void, vnet.1 as c_ulong) };
        }
        // SAFETY: our own mapping, nothing of it is referenced any more.
        unsafe { libc::munmap(base as *mut libc::c_void, size as usize) };
    };
    if let Err(e) = apply(true, &values) {
        cleanup(vnet);
        return Err(e);
    }
    // linker_load_dependencies (the kernel version) before the other relocations.
    // SAFETY: kld describes our mapping; the kernel reads the metadata set.
    let r = unsafe { kapi::hk_kld_check_deps(&mut *kld, ebuf.as_mut_ptr().cast::<c_char>(), ebuf.len() as c_ulong) };
    if r != 0 {
        cleanup(vnet);
        return Err(err(r, cbuf(&ebuf)));
    }
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        cleanup(vnet);
        return Err(err(ENOENT, format!("{} undefined symbol(s) the kernel does not provide: {}", missing.len(), missing.join(" "))));
    }
    if let Err(e) = apply(false, &values) {
        cleanup(vnet);
        return Err(e);
    }
    protect(&secs, base, size);
    syminfo.sort_by_key(|s| s.addr);
    if std::env::var_os("KHARNESS_PERFMAP").is_some() {
        // For `perf report` (perf reads /tmp/perf-PID.map for JIT-like code).
        let map: String = syminfo
            .iter()
            .filter(|s| s.size > 0)
            .map(|s| format!("{:x} {:x} {:#}\n", s.addr, s.size, rustc_demangle::demangle(&s.name)))
            .collect();
        let _ = std::fs::write(format!("/tmp/perf-{}.map", std::process::id()), map);
    }
    {
        let mut st = state();
        st.current = Some(Loaded { filename: filename.clone(), base, size, kld, _set_names: set_names, _fname: fname, vnet, syms: syminfo });
    }
    // The machine-independent half: metadata, sysctls, VNET copies, sysinits, MOD_LOAD.
    let kld_ptr: *mut HkKld = {
        let mut st = state();
        &mut *st.current.as_mut().expect("just set").kld as *mut HkKld
    };
    // SAFETY: the HkKld lives in the loader state until unload.
    let r = unsafe { kapi::hk_kld_link(kld_ptr, ebuf.as_mut_ptr().cast::<c_char>(), ebuf.len() as c_ulong) };
    if r != 0 {
        let l = state().current.take().expect("loaded");
        finish_unmap(l);
        return Err(err(r, cbuf(&ebuf)));
    }
    Ok(())
}

fn cbuf(b: &[u8]) -> String {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..n]).into_owned()
}

/// link_elf_protect: per page, read plus write/execute when a section on it needs it.
fn protect(secs: &[Section], base: u64, size: u64) {
    let pages = (size / PAGE) as usize;
    let mut prot = vec![libc::PROT_READ; pages];
    for s in secs {
        if !s.loaded || s.is_vnet || s.size == 0 {
            continue;
        }
        let first = ((s.addr - base) / PAGE) as usize;
        let last = ((s.addr + s.size - 1 - base) / PAGE) as usize;
        for p in prot.iter_mut().take(last + 1).skip(first) {
            if s.flags & u64::from(elf::SHF_WRITE) != 0 {
                *p |= libc::PROT_WRITE;
            }
            if s.flags & u64::from(elf::SHF_EXECINSTR) != 0 {
                *p |= libc::PROT_EXEC;
            }
        }
    }
    for (i, p) in prot.iter().enumerate() {
        // SAFETY: pages of our own mapping.
        unsafe { libc::mprotect((base + i as u64 * PAGE) as *mut libc::c_void, PAGE as usize, *p) };
    }
}

fn finish_unmap(l: Loaded) {
    if l.vnet.0 != 0 {
        // SAFETY: giving back the module's VNET space.
        unsafe { kapi::hk_vnet_data_free(l.vnet.0 as *mut libc::c_void, l.vnet.1 as c_ulong) };
    }
    // Keep the range reserved and inaccessible: a stale call faults.
    // SAFETY: our own mapping.
    unsafe { libc::mprotect(l.base as *mut libc::c_void, l.size as usize, libc::PROT_NONE) };
    let mut st = state();
    st.gone.push((l.base, l.size, l.syms));
}

/// kldunload: Err(errno) leaves the module loaded.
pub fn unload() -> Result<(), i32> {
    let kld_ptr: *mut HkKld = {
        let mut st = state();
        match st.current.as_mut() {
            Some(l) => &mut *l.kld as *mut HkKld,
            None => return Err(ENOENT),
        }
    };
    // SAFETY: the HkKld is alive until we take it below.
    let r = unsafe { kapi::hk_kld_unlink(kld_ptr) };
    if r != 0 {
        return Err(r);
    }
    let l = state().current.take().expect("loaded");
    let (base, size) = (l.base, l.size);
    finish_unmap(l);
    // SAFETY: nothing of the module may be left in the kernel: the kernel checks.
    unsafe { kapi::hk_kld_gone(base as c_ulong, size as c_ulong) };
    Ok(())
}

pub fn is_loaded() -> bool {
    state().current.is_some()
}

pub fn loaded_name() -> Option<(String, u64, u64)> {
    state().current.as_ref().map(|l| (l.filename.clone(), l.base, l.size))
}

fn find_sym(syms: &[SymInfo], addr: u64) -> Option<&SymInfo> {
    let i = syms.partition_point(|s| s.addr <= addr);
    if i == 0 {
        return None;
    }
    let s = &syms[i - 1];
    if s.size == 0 || addr < s.addr + s.size.max(1) {
        Some(s)
    } else {
        Some(s)
    }
}

/// symbol+offset of an address in the loaded (or an unloaded) module.
pub fn symbolize(addr: u64) -> Option<String> {
    let st = STATE.try_lock().ok()?;
    if let Some(l) = &st.current {
        if addr >= l.base && addr < l.base + l.size {
            return Some(match find_sym(&l.syms, addr) {
                Some(s) => format!("{:#}+{:#x} ({})", rustc_demangle::demangle(&s.name), addr - s.addr, l.filename),
                None => format!("{:#x} ({}+{:#x})", addr, l.filename, addr - l.base),
            });
        }
    }
    for (base, size, syms) in &st.gone {
        if addr >= *base && addr < base + size {
            return Some(match find_sym(syms, addr) {
                Some(s) => format!("{:#}+{:#x} (UNLOADED module)", rustc_demangle::demangle(&s.name), addr - s.addr),
                None => format!("{addr:#x} (UNLOADED module)"),
            });
        }
    }
    None
}
