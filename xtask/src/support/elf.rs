//! Just enough ELF64 parsing to prove a binary is fully static: no program interpreter
//! (`PT_INTERP`) and no dynamic section (`PT_DYNAMIC`, which a static-pie would still carry
//! and which nobody would relocate: nostd.md P17), and nothing left for a dynamic loader to
//! do (`dynamic_linking`).
//!
//! The second part exists because a dependency that pulls in the `libc` crate still links:
//! its `-lc` comes with `-Bdynamic`, so lld resolves the call against libc.so, emits a GOT
//! slot with a `R_X86_64_GLOB_DAT` relocation and the symbol versions it needs, and
//! `linker/flint.ld` discards `.dynamic`, so there are no program headers to give it away.
//! No loader runs before `_start`: the slot stays 0 and the call jumps to address 0 (measured:
//! SIGSEGV at ip 0). The release profile strips `.symtab`, but the section headers stay, and
//! they show it.

pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const EM_X86_64: u16 = 62;

// Section types (ELF gABI; the GNU ones from glibc's elf.h).
const SHT_RELA: u32 = 4;
const SHT_HASH: u32 = 5;
const SHT_DYNAMIC: u32 = 6;
const SHT_REL: u32 = 9;
const SHT_DYNSYM: u32 = 11;
const SHT_RELR: u32 = 19;
const SHT_GNU_HASH: u32 = 0x6fff_fff6;
const SHT_GNU_VERDEF: u32 = 0x6fff_fffd;
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
const SHT_GNU_VERSYM: u32 = 0x6fff_ffff;

/// One section header, with its name resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub kind: u32,
    /// `sh_flags` (SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, …).
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub entsize: u64,
    /// `sh_link`: for a symbol table, its string table's index.
    pub link: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ElfInfo {
    pub e_type: u16,
    pub machine: u16,
    pub entry: u64,
    pub phnum: u16,
    pub has_interp: bool,
    pub has_dynamic: bool,
    /// Empty when the file has no section header table.
    pub sections: Vec<Section>,
}

impl ElfInfo {
    pub fn is_static(&self) -> bool {
        !self.has_interp && !self.has_dynamic
    }

    pub fn type_name(&self) -> &'static str {
        match self.e_type {
            ET_EXEC => "ET_EXEC",
            ET_DYN => "ET_DYN",
            _ => "other",
        }
    }
}

fn u16_at(b: &[u8], off: usize) -> Result<u16, String> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| format!("truncated ELF at offset {off}"))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated ELF at offset {off}"))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64, String> {
    b.get(off..off + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated ELF at offset {off}"))
}

/// Parses the ELF header and program header table of a little-endian ELF64 file.
pub fn parse(b: &[u8]) -> Result<ElfInfo, String> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if b[4] != 2 {
        return Err("not ELF64 (EI_CLASS != ELFCLASS64)".into());
    }
    if b[5] != 1 {
        return Err("not little-endian (EI_DATA != ELFDATA2LSB)".into());
    }
    let e_type = u16_at(b, 0x10)?;
    let machine = u16_at(b, 0x12)?;
    let entry = u64_at(b, 0x18)?;
    let phoff = u64_at(b, 0x20)?;
    let phentsize = u16_at(b, 0x36)?;
    let phnum = u16_at(b, 0x38)?;
    if phnum > 0 && phentsize < 56 {
        return Err(format!("program header entries too small ({phentsize} bytes)"));
    }
    let phoff = usize::try_from(phoff).map_err(|_| "e_phoff out of range")?;
    let mut info =
        ElfInfo { e_type, machine, entry, phnum, has_interp: false, has_dynamic: false, sections: Vec::new() };
    for i in 0..usize::from(phnum) {
        let off = phoff.checked_add(i * usize::from(phentsize)).ok_or("program header offset overflows")?;
        match u32_at(b, off)? {
            PT_INTERP => info.has_interp = true,
            PT_DYNAMIC => info.has_dynamic = true,
            _ => {}
        }
    }
    info.sections = sections(b)?;
    Ok(info)
}

/// The section header table (`e_shoff`, `e_shnum`, names from `e_shstrndx`).
fn sections(b: &[u8]) -> Result<Vec<Section>, String> {
    let shoff = usize::try_from(u64_at(b, 0x28)?).map_err(|_| "e_shoff out of range")?;
    let shentsize = usize::from(u16_at(b, 0x3a)?);
    let shnum = usize::from(u16_at(b, 0x3c)?);
    let shstrndx = usize::from(u16_at(b, 0x3e)?);
    if shoff == 0 || shnum == 0 {
        return Ok(Vec::new());
    }
    if shentsize < 64 {
        return Err(format!("section header entries too small ({shentsize} bytes)"));
    }
    let mut raw = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let h = shoff.checked_add(i * shentsize).ok_or("section header offset overflows")?;
        let field = |at: usize| u64_at(b, h + at);
        raw.push((
            u32_at(b, h)?,
            u32_at(b, h + 4)?,
            field(8)?,
            field(16)?,
            field(24)?,
            field(32)?,
            u32_at(b, h + 40)?,
            field(56)?,
        ));
    }
    let strtab = raw.get(shstrndx).map(|&(_, _, _, _, off, size, _, _)| (off, size));
    let name = |at: u32| -> String {
        let Some((off, size)) = strtab else { return String::new() };
        let start = off.saturating_add(u64::from(at));
        let end = off.saturating_add(size);
        let bytes = b.get(start as usize..(end as usize).min(b.len())).unwrap_or(&[]);
        let len = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..len]).into_owned()
    };
    Ok(raw
        .into_iter()
        .map(|(n, kind, flags, addr, offset, size, link, entsize)| Section {
            name: name(n),
            kind,
            flags,
            addr,
            offset,
            size,
            entsize,
            link,
        })
        .collect())
}

/// x86-64 relocation type names (psABI §4.4.1) for the ones a link against a shared library
/// produces.
fn reloc_name(t: u32) -> String {
    match t {
        1 => "R_X86_64_64".into(),
        5 => "R_X86_64_COPY".into(),
        6 => "R_X86_64_GLOB_DAT".into(),
        7 => "R_X86_64_JUMP_SLOT".into(),
        8 => "R_X86_64_RELATIVE".into(),
        37 => "R_X86_64_IRELATIVE".into(),
        other => format!("type {other}"),
    }
}

/// Everything in a supposedly static, loader-less binary that only a dynamic loader would
/// resolve: relocation sections (with their entries' types), dynamic symbol tables and symbol
/// version requirements, PLT/GOT-PLT sections, and GOT slots that hold 0 (what an indirect call
/// through an unresolved slot jumps to). Empty for a clean binary.
pub fn dynamic_linking(b: &[u8], info: &ElfInfo) -> Vec<String> {
    let mut found = Vec::new();
    for s in info.sections.iter().filter(|s| s.size > 0) {
        match s.kind {
            SHT_RELA | SHT_REL | SHT_RELR => {
                let entsize = if s.entsize > 0 { s.entsize } else { 24 };
                let n = s.size / entsize;
                let mut types: Vec<String> = Vec::new();
                if s.kind != SHT_RELR {
                    for i in 0..n.min(64) {
                        // r_info's low 32 bits are the type (RELA: offset 8, REL: offset 8 too).
                        let at = s.offset.saturating_add(i * entsize + 8) as usize;
                        if let Ok(info) = u64_at(b, at) {
                            let t = reloc_name(info as u32);
                            if !types.contains(&t) {
                                types.push(t);
                            }
                        }
                    }
                }
                found.push(
                    format!("{} holds {n} dynamic relocation(s) {}", s.name, types.join(", ")).trim_end().to_string(),
                );
            }
            SHT_DYNSYM | SHT_DYNAMIC | SHT_HASH | SHT_GNU_HASH => {
                found.push(format!("{} (a dynamic symbol table or section) is present", s.name))
            }
            SHT_GNU_VERNEED | SHT_GNU_VERSYM | SHT_GNU_VERDEF => {
                found.push(format!("{}: symbol versions of a shared library are required", s.name))
            }
            _ if matches!(s.name.as_str(), ".plt" | ".plt.got" | ".plt.sec" | ".got.plt" | ".interp") => {
                found.push(format!("{} ({} bytes) is present", s.name, s.size))
            }
            _ => {}
        }
    }
    for s in info.sections.iter().filter(|s| s.name == ".got" || s.name == ".got.plt") {
        let zero: Vec<u64> =
            (0..s.size / 8).filter(|i| u64_at(b, s.offset.saturating_add(i * 8) as usize) == Ok(0)).collect();
        if let Some(first) = zero.first() {
            found.push(format!(
                "{} {} slot(s) hold 0 (the first at {:#x}): a call through one jumps to address 0",
                zero.len(),
                s.name,
                s.addr + first * 8
            ));
        }
    }
    found
}

pub fn check_x86_64(info: &ElfInfo) -> Result<(), String> {
    if info.machine != EM_X86_64 {
        return Err(format!("e_machine is {}, expected x86-64 ({EM_X86_64})", info.machine));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 image: header + the given program header types.
    fn image(e_type: u16, types: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[0x10..0x12].copy_from_slice(&e_type.to_le_bytes());
        b[0x12..0x14].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[0x18..0x20].copy_from_slice(&0x401000u64.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            b.extend_from_slice(&ph);
        }
        b
    }

    #[test]
    fn static_exec() {
        let info = parse(&image(ET_EXEC, &[1, 1, 0x6474e551])).unwrap();
        assert!(info.is_static());
        assert_eq!(info.type_name(), "ET_EXEC");
        assert_eq!(info.phnum, 3);
        check_x86_64(&info).unwrap();
    }

    #[test]
    fn dynamic_and_static_pie_are_rejected() {
        let dynamic = parse(&image(ET_DYN, &[6, PT_INTERP, 1, PT_DYNAMIC])).unwrap();
        assert!(dynamic.has_interp && dynamic.has_dynamic && !dynamic.is_static());
        let static_pie = parse(&image(ET_DYN, &[1, PT_DYNAMIC])).unwrap();
        assert!(!static_pie.has_interp && !static_pie.is_static());
    }

    /// `image(ET_EXEC, &[1])` plus a section table: (name, type, contents) each, and a
    /// `.shstrtab` last; every section's address is 0x420000 + its file offset.
    fn with_sections(list: &[(&str, u32, Vec<u8>)]) -> Vec<u8> {
        let mut b = image(ET_EXEC, &[1]);
        let mut names = vec![0u8];
        let mut headers = vec![[0u8; 64]];
        let mut add = |b: &mut Vec<u8>, name: &str, kind: u32, data: &[u8], entsize: u64| {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&(names.len() as u32).to_le_bytes());
            names.extend_from_slice(name.as_bytes());
            names.push(0);
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[16..24].copy_from_slice(&(0x420000 + b.len() as u64).to_le_bytes());
            h[24..32].copy_from_slice(&(b.len() as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(data.len() as u64).to_le_bytes());
            h[56..64].copy_from_slice(&entsize.to_le_bytes());
            b.extend_from_slice(data);
            headers.push(h);
        };
        for (name, kind, data) in list {
            add(&mut b, name, *kind, data, if *kind == SHT_RELA { 24 } else { 0 });
        }
        let strtab_index = headers.len();
        let shstrtab_name = names.len() as u32;
        names.extend_from_slice(b".shstrtab\0");
        let mut h = [0u8; 64];
        h[..4].copy_from_slice(&shstrtab_name.to_le_bytes());
        h[4..8].copy_from_slice(&3u32.to_le_bytes());
        h[24..32].copy_from_slice(&(b.len() as u64).to_le_bytes());
        h[32..40].copy_from_slice(&(names.len() as u64).to_le_bytes());
        b.extend_from_slice(&names);
        headers.push(h);
        let shoff = b.len() as u64;
        for h in &headers {
            b.extend_from_slice(h);
        }
        b[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        b[0x3e..0x40].copy_from_slice(&(strtab_index as u16).to_le_bytes());
        b
    }

    fn slots(values: &[u64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn a_clean_static_image_has_nothing_for_a_loader() {
        let b = with_sections(&[
            (".text", 1, vec![0xc3; 16]),
            (".got", 1, slots(&[0x401000, 0x401010])),
            (".bss", 8, Vec::new()),
        ]);
        let info = parse(&b).unwrap();
        let names: Vec<&str> = info.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["", ".text", ".got", ".bss", ".shstrtab"]);
        assert_eq!(dynamic_linking(&b, &info), Vec::<String>::new());
    }

    #[test]
    fn a_call_resolved_against_libc_so_is_found() {
        // What the measured libc build holds: one GLOB_DAT relocation, version needs, a 0 slot.
        let mut rela = vec![0u8; 24];
        rela[8..16].copy_from_slice(&6u64.to_le_bytes());
        let b = with_sections(&[
            (".gnu.version_r", SHT_GNU_VERNEED, vec![0; 32]),
            (".rela.dyn", SHT_RELA, rela),
            (".got", 1, slots(&[0x401000, 0, 0x401010])),
        ]);
        let found = dynamic_linking(&b, &parse(&b).unwrap()).join("\n");
        assert!(found.contains(".rela.dyn holds 1 dynamic relocation(s) R_X86_64_GLOB_DAT"), "{found}");
        assert!(found.contains(".gnu.version_r: symbol versions"), "{found}");
        assert!(found.contains("1 .got slot(s) hold 0 (the first at 0x"), "{found}");
        let plt = with_sections(&[(".plt", 1, vec![0xff; 16]), (".dynsym", SHT_DYNSYM, vec![0; 24])]);
        assert_eq!(dynamic_linking(&plt, &parse(&plt).unwrap()).len(), 2);
    }

    #[test]
    fn the_dynamically_linked_host_binary_is_found() {
        // This test binary is a normal dynamically linked executable.
        let me = std::fs::read("/proc/self/exe").unwrap();
        let info = parse(&me).unwrap();
        assert!(!dynamic_linking(&me, &info).is_empty());
    }

    #[test]
    fn garbage_and_truncation() {
        assert!(parse(b"#!/bin/sh\n").is_err());
        let mut b = image(ET_EXEC, &[1, 1]);
        b.truncate(64 + 56 + 2);
        assert!(parse(&b).is_err());
    }

    #[test]
    fn host_binary_parses() {
        // Whatever /proc/self/exe is (this test binary), it must parse as x86-64 ELF64.
        let me = std::fs::read("/proc/self/exe").unwrap();
        let info = parse(&me).unwrap();
        check_x86_64(&info).unwrap();
    }
}
