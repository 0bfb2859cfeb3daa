//! Just enough ELF64 parsing to prove a binary is fully static: no program interpreter
//! (`PT_INTERP`) and no dynamic section (`PT_DYNAMIC`, which a static-pie would still carry
//! and which nobody would relocate: nostd.md P17).

pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const EM_X86_64: u16 = 62;

#[derive(Debug, PartialEq, Eq)]
pub struct ElfInfo {
    pub e_type: u16,
    pub machine: u16,
    pub entry: u64,
    pub phnum: u16,
    pub has_interp: bool,
    pub has_dynamic: bool,
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
    let mut info = ElfInfo { e_type, machine, entry, phnum, has_interp: false, has_dynamic: false };
    for i in 0..usize::from(phnum) {
        let off = phoff.checked_add(i * usize::from(phentsize)).ok_or("program header offset overflows")?;
        match u32_at(b, off)? {
            PT_INTERP => info.has_interp = true,
            PT_DYNAMIC => info.has_dynamic = true,
            _ => {}
        }
    }
    Ok(info)
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
