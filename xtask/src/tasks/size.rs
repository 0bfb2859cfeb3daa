//! `cargo xtask size`: what each part of flint costs in the binary, symbol by symbol.
//!
//! Builds the release binary once more with its symbol table kept (same code and layout), sums
//! the sizes of every code, read-only and initialised-data symbol by the part of flint its
//! Rust path belongs to (`support::symbols::PARTS`), and prints a table. LTO inlines freely,
//! so a part's own functions count where they ended up: what was inlined into `flint_main`
//! counts as wiring. Bytes no symbol claims (merged string literals, alignment, ELF headers)
//! are listed as such. `.bss` buffers cost no file bytes and are left to the README's memory
//! table.

use std::collections::BTreeMap;

use crate::harness::build;
use crate::support::symbols::{self, Kind};

pub fn cli(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("size: unexpected `{a}`"));
    }
    let shipped = build::run()?;
    let path = build::unstripped()?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut parts: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    let mut named = 0;
    for s in symbols::read(&bytes)? {
        let column = match s.kind {
            Kind::Code => 0,
            Kind::ReadOnly => 1,
            Kind::Data => 2,
            Kind::Zero => continue,
        };
        parts.entry(symbols::part_of(&s.path)).or_default()[column] += s.size;
        named += s.size;
    }
    let mut rows: Vec<_> = parts.into_iter().collect();
    rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<u64>()));
    println!("| part | code | read-only data | data | total |");
    println!("|---|---:|---:|---:|---:|");
    for (name, [code, ro, data]) in &rows {
        println!("| {name} | {code} | {ro} | {data} | **{}** |", code + ro + data);
    }
    let rest = shipped.size.saturating_sub(named);
    println!(
        "| unnamed: string literals, tables without a symbol, alignment, ELF and section headers | | | | {rest} |"
    );
    println!("| **the stripped binary** | | | | **{}** |", shipped.size);
    Ok(())
}
