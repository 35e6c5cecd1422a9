//! fst-peer: BurntSushi's `fst::Map` (a finite-state transducer) measured on the same key files
//! and the same way as memkv-compare's static rows, so memkv's FrozenLayer can be compared to it.
//!
//!   fst-peer --keys FILE [--repeat N] [--wall] [--checksums]
//!
//! FILE: one key per line (split on '\n'; a '\r' just before it is dropped, like
//! bench/datasets.hpp's load_keys_file; keys are bytes; repeated keys dropped, first kept).
//! Two variants, as memkv-compare's `[rank]` and `[hash64]` rows: built from the sorted keys with
//! values = the key's rank, or values = hash64(key) (bench/datasets.hpp, ported bit-exactly).
//!   build   MapBuilder::memory(), insert the sorted keys, into_inner(), Map::from_bytes()
//!   lookup  every key once in memkv-compare's lookup order (shuffled_positions(n, 2002)), read
//!           from a copy of the keys laid out in that order (as memkv-compare does), value
//!           checked
//!   miss    every key with the byte 0x01 appended (verified absent), in the same order
//!   miss*   memkv-compare's own absent-key set (make_absent_keys(seed 3): a byte appended,
//!           changed or prepended), so this column matches memkv-compare's "miss" exactly
//! Each phase is timed by the process's CPU time (CLOCK_PROCESS_CPUTIME_ID) unless --wall.
//! --repeat N: the variants run interleaved N times; every figure is the median.
//! --checksums: print checksums of the ported hash64 / lookup order / absent keys and exit
//! (for checking the port against the C++ functions).

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Instant;

use fst::{Map, MapBuilder};

// ---------------------------------------------------------------------------------------------
// bench/datasets.hpp, ported bit-exactly (u64 wrapping arithmetic).

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, then a splitmix finalizer (memkv_bench::hash64).
fn hash64(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in key {
        h = (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix64(&mut h)
}

/// splitmix64 seeding a xoshiro256** (memkv_bench::Rng).
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(mut seed: u64) -> Self {
        let mut s = [0u64; 4];
        for word in s.iter_mut() {
            *word = splitmix64(&mut seed);
        }
        Rng { s }
    }
    fn next(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
    /// Uniform in [0, bound), bound > 0 (Lemire's multiply-shift).
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }
}

/// A permutation of 0..n-1, shuffled with a fixed seed (Fisher-Yates; shuffled_positions).
fn shuffled_positions(n: usize, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut rng = Rng::new(seed);
    let mut i = n;
    while i > 1 {
        let j = rng.below(i as u64) as usize;
        order.swap(i - 1, j);
        i -= 1;
    }
    order
}

fn append_base36(out: &mut Vec<u8>, mut v: u64, digits: u32) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    for _ in 0..digits {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
    }
}

/// memkv-compare's absent keys (make_absent_keys, seed 3): n keys, each a dataset key with a
/// byte appended, the last or middle byte changed, or a byte prepended; verified absent.
fn make_absent_keys(keys: &[&[u8]], seed: u64) -> Vec<Vec<u8>> {
    const FILL: &[u8; 8] = b"~#Z0qx_.";
    let n = keys.len();
    let present: HashSet<&[u8]> = keys.iter().copied().collect();
    let mut made: HashSet<Vec<u8>> = HashSet::with_capacity(n);
    let mut list = Vec::with_capacity(n);
    let mut rng = Rng::new(seed);
    for i in 0..n {
        let base = keys[rng.below(n as u64) as usize];
        let mut attempt = 0usize;
        loop {
            let mut candidate = base.to_vec();
            let c = FILL[rng.below(FILL.len() as u64) as usize];
            match (i + attempt) % 4 {
                0 => candidate.push(c),
                1 => match candidate.last_mut() {
                    None => candidate.push(c),
                    Some(last) => *last = c,
                },
                2 => {
                    if candidate.is_empty() {
                        candidate.push(c)
                    } else {
                        let mid = candidate.len() / 2;
                        candidate[mid] = c;
                    }
                }
                _ => {
                    candidate.clear();
                    candidate.push(c);
                    candidate.extend_from_slice(base);
                }
            }
            if attempt > 16 {
                append_base36(&mut candidate, rng.next(), 4);
            }
            if !present.contains(candidate.as_slice()) && !made.contains(&candidate) {
                made.insert(candidate.clone());
                list.push(candidate);
                break;
            }
            attempt += 1;
        }
    }
    list
}

// ---------------------------------------------------------------------------------------------
// Key file.

struct Dataset {
    content: Vec<u8>,
    spans: Vec<(usize, usize)>, // (offset, length) into content, dataset order, distinct keys
    raw_bytes: usize,
    duplicates_dropped: usize,
}

impl Dataset {
    fn keys(&self) -> Vec<&[u8]> {
        self.spans.iter().map(|&(o, l)| &self.content[o..o + l]).collect()
    }
}

fn load_keys_file(path: &str) -> Result<Dataset, String> {
    let content = std::fs::read(path).map_err(|e| format!("cannot open keys file '{path}': {e}"))?;
    let mut all = Vec::new();
    let mut pos = 0;
    while pos < content.len() {
        let stop = content[pos..].iter().position(|&b| b == b'\n').map_or(content.len(), |p| pos + p);
        let mut len = stop - pos;
        if len > 0 && content[pos + len - 1] == b'\r' {
            len -= 1;
        }
        all.push((pos, len));
        pos = stop + 1;
    }
    let mut spans = Vec::with_capacity(all.len());
    let mut raw_bytes = 0;
    let mut duplicates_dropped = 0;
    {
        let mut seen: HashSet<&[u8]> = HashSet::with_capacity(all.len());
        for &(o, l) in &all {
            if !seen.insert(&content[o..o + l]) {
                duplicates_dropped += 1;
                continue;
            }
            spans.push((o, l));
            raw_bytes += l;
        }
    }
    Ok(Dataset { content, spans, raw_bytes, duplicates_dropped })
}

// ---------------------------------------------------------------------------------------------
// Timing.

fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the pointed-to local.
    unsafe {
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts);
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

struct Stopwatch {
    wall: Instant,
    cpu: f64,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch { wall: Instant::now(), cpu: cpu_seconds() }
    }
    /// (cpu seconds, wall seconds)
    fn stop(&self) -> (f64, f64) {
        (cpu_seconds() - self.cpu, self.wall.elapsed().as_secs_f64())
    }
}

// ---------------------------------------------------------------------------------------------
// One measured run of one variant.

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Rank,
    Hash,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Rank => "rank",
            Variant::Hash => "hash64",
        }
    }
}

#[derive(Default, Clone)]
struct Run {
    image: f64,
    build: (f64, f64),
    lookup: (f64, f64),
    miss: (f64, f64),
    miss_cmp: (f64, f64),
    found: u64,
    correct: u64,
    false_hits: u64,     // 0x01-appended misses found
    false_hits_cmp: u64, // memkv-compare absent keys found
}

struct Prepared<'a> {
    sorted_keys: Vec<&'a [u8]>, // by rank
    rank_values: Vec<u64>,      // by rank
    hash_values: Vec<u64>,      // by rank
    rank_of: Vec<u64>,          // by dataset position
    hash_of: Vec<u64>,          // by dataset position
    lookup_order: Vec<u32>,
    // the keys again in lookup order, one after another in one buffer (as memkv-compare lays
    // them out), so the timed loop reads its queries sequentially: (offset, length) into it
    lookup_buf: Vec<u8>,
    lookup_spans: Vec<(usize, usize)>,
    miss_keys: Vec<Vec<u8>>, // key + 0x01, in lookup order
    miss_cmp_keys: Vec<Vec<u8>>,
}

fn run_variant(p: &Prepared, v: Variant) -> Result<Run, fst::Error> {
    let values = match v {
        Variant::Rank => &p.rank_values,
        Variant::Hash => &p.hash_values,
    };
    let expected = match v {
        Variant::Rank => &p.rank_of,
        Variant::Hash => &p.hash_of,
    };
    let mut r = Run::default();

    let sw = Stopwatch::start();
    let mut builder = MapBuilder::memory();
    for (key, &value) in p.sorted_keys.iter().zip(values.iter()) {
        builder.insert(key, value)?;
    }
    let bytes = builder.into_inner()?;
    let map = Map::from_bytes(bytes)?;
    r.build = sw.stop();
    r.image = map.as_fst().size() as f64;
    eprint!(" build {:.2}s", r.build.1);

    let sw = Stopwatch::start();
    let (mut found, mut correct) = (0u64, 0u64);
    for (j, &i) in p.lookup_order.iter().enumerate() {
        let (o, l) = p.lookup_spans[j];
        if let Some(value) = map.get(&p.lookup_buf[o..o + l]) {
            found += 1;
            correct += u64::from(value == expected[i as usize]);
        }
    }
    r.lookup = sw.stop();
    r.found = found;
    r.correct = correct;
    eprint!(" lookup {:.2}s", r.lookup.1);

    // Timed lookups of absent keys: (CPU, wall) seconds and how many were (wrongly) found.
    let misses = |keys: &[Vec<u8>]| {
        let sw = Stopwatch::start();
        let hits: u64 = keys.iter().map(|k| u64::from(map.get(k).is_some())).sum();
        (sw.stop(), hits)
    };
    (r.miss, r.false_hits) = misses(&p.miss_keys);
    eprint!(" miss {:.2}s", r.miss.1);
    (r.miss_cmp, r.false_hits_cmp) = misses(&p.miss_cmp_keys);
    eprintln!(" miss* {:.2}s", r.miss_cmp.1);
    Ok(r)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

// ---------------------------------------------------------------------------------------------

struct Options {
    keys: String,
    repeat: usize,
    wall: bool,
    checksums: bool,
}

fn usage() -> &'static str {
    "usage: fst-peer --keys FILE [--repeat N] [--wall] [--checksums]\n\
     \x20 --keys FILE   one key per line (bench/data/npm-urls.txt, bench/data/npm-names.txt, ...)\n\
     \x20 --repeat N    run each variant N times (interleaved), report medians (default 1)\n\
     \x20 --wall        throughputs from wall-clock time instead of the process's CPU time\n\
     \x20 --checksums   print checksums of hash64 / lookup order / absent keys, then exit\n"
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options { keys: String::new(), repeat: 1, wall: false, checksums: false };
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        let value = |i: usize| args.get(i + 1).cloned().ok_or_else(|| format!("missing value after {a}"));
        match a {
            "--keys" => {
                o.keys = value(i)?;
                i += 1;
            }
            "--repeat" => {
                o.repeat = value(i)?.parse().map_err(|_| "--repeat wants a positive integer".to_string())?;
                if o.repeat == 0 {
                    return Err("--repeat wants a positive integer".into());
                }
                i += 1;
            }
            "--wall" => o.wall = true,
            "--checksums" => o.checksums = true,
            "-h" | "--help" => {
                print!("{}", usage());
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument '{a}'")),
        }
        i += 1;
    }
    if o.keys.is_empty() {
        return Err("--keys FILE is required".into());
    }
    Ok(o)
}

fn fnv_fold(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h = (*h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn now_utc() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let mut buf = [0u8; 64];
    // SAFETY: gmtime_r fills the local tm; strftime writes at most buf.len() bytes into buf.
    let len = unsafe {
        libc::gmtime_r(&t, &mut tm);
        libc::strftime(buf.as_mut_ptr() as *mut libc::c_char, buf.len(), b"%Y-%m-%d %H:%M UTC\0".as_ptr() as *const libc::c_char, &tm)
    };
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

fn real_main() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().collect();
    let opt = parse_args(&args).map_err(|e| format!("{e}\n{}", usage()))?;
    let command = args.join(" ");
    let load_start = load_average();

    eprint!("loading {} ...", opt.keys);
    let t0 = Instant::now();
    let data = load_keys_file(&opt.keys)?;
    let keys = data.keys();
    let n = keys.len();
    if n == 0 {
        return Err(format!("'{}' holds no keys", opt.keys));
    }
    if n > u32::MAX as usize {
        return Err("more than 2^32-1 keys".into());
    }
    eprintln!(" {} keys, {:.1} MB ({:.1}s)", n, data.raw_bytes as f64 / 1e6, t0.elapsed().as_secs_f64());

    // Prepared once, outside every timed phase (as memkv-compare's parent does).
    let mut by_rank: Vec<u32> = (0..n as u32).collect();
    by_rank.sort_unstable_by(|&a, &b| keys[a as usize].cmp(keys[b as usize]));
    let sorted_keys: Vec<&[u8]> = by_rank.iter().map(|&i| keys[i as usize]).collect();
    let mut rank_of = vec![0u64; n];
    for (rank, &i) in by_rank.iter().enumerate() {
        rank_of[i as usize] = rank as u64;
    }
    let hash_of: Vec<u64> = keys.iter().map(|k| hash64(k)).collect();
    let rank_values: Vec<u64> = (0..n as u64).collect();
    let hash_values: Vec<u64> = by_rank.iter().map(|&i| hash_of[i as usize]).collect();
    let lookup_order = shuffled_positions(n, 2002);
    let present: HashSet<&[u8]> = keys.iter().copied().collect();
    let miss_keys: Vec<Vec<u8>> = lookup_order
        .iter()
        .map(|&i| {
            let mut k = keys[i as usize].to_vec();
            k.push(0x01);
            k
        })
        .collect();
    let present_01 = miss_keys.iter().filter(|k| present.contains(k.as_slice())).count();
    drop(present);
    let miss_cmp_keys = make_absent_keys(&keys, 3);

    if opt.checksums {
        let (mut h1, mut h2, mut h3) = (0xcbf2_9ce4_8422_2325u64, 0xcbf2_9ce4_8422_2325u64, 0xcbf2_9ce4_8422_2325u64);
        for &h in &hash_of {
            fnv_fold(&mut h1, &h.to_le_bytes());
        }
        for &i in &lookup_order {
            fnv_fold(&mut h2, &i.to_le_bytes());
        }
        for k in &miss_cmp_keys {
            fnv_fold(&mut h3, k);
            fnv_fold(&mut h3, &[0]);
        }
        println!("n {n} raw {}", data.raw_bytes);
        println!("hash64[0] {:016x}", hash_of[0]);
        println!("hash64 {h1:016x}");
        println!("lookup_order {h2:016x}");
        println!("absent_keys {h3:016x}");
        return Ok(true);
    }

    let mut lookup_buf: Vec<u8> = Vec::with_capacity(data.raw_bytes);
    let mut lookup_spans: Vec<(usize, usize)> = Vec::with_capacity(n);
    for &i in &lookup_order {
        let k = keys[i as usize];
        lookup_spans.push((lookup_buf.len(), k.len()));
        lookup_buf.extend_from_slice(k);
    }
    let p = Prepared {
        sorted_keys,
        rank_values,
        hash_values,
        rank_of,
        hash_of,
        lookup_order,
        lookup_buf,
        lookup_spans,
        miss_keys,
        miss_cmp_keys,
    };

    let variants = [Variant::Rank, Variant::Hash];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); variants.len()];
    for round in 0..opt.repeat {
        for (vi, &v) in variants.iter().enumerate() {
            eprint!("[{}/{}] fst::Map [{}]:", round + 1, opt.repeat, v.label());
            let r = run_variant(&p, v).map_err(|e| format!("fst error ({}): {e}", v.label()))?;
            runs[vi].push(r);
        }
    }
    let load_end = load_average();

    // Report.
    let raw = data.raw_bytes as f64;
    println!(
        "## fst-peer: {}, n = {} keys, raw = {:.1} MB (average {:.2} B/key)\n",
        opt.keys,
        n,
        raw / 1e6,
        raw / n as f64
    );
    println!("- command: `{command}`");
    println!(
        "- peer: fst {} (BurntSushi; fst::MapBuilder::memory() + fst::Map::from_bytes), {}, rustflags `{}`, profile release (opt-level 3, lto fat, codegen-units 1)",
        env!("FST_PEER_FST_VERSION"),
        env!("FST_PEER_RUSTC_VERSION"),
        env!("FST_PEER_RUSTFLAGS")
    );
    println!(
        "- date: {}; each figure is the median of {} run(s) (variants interleaved, one process)",
        now_utc(),
        opt.repeat
    );
    println!(
        "- throughputs from {}",
        if opt.wall {
            "wall-clock time (--wall)"
        } else {
            "the process's CPU time (user + system, CLOCK_PROCESS_CPUTIME_ID), not wall time"
        }
    );
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    println!("- load average (1/5/15 min) at start: {load_start}, at end: {load_end} ({cpus} CPUs)");
    if data.duplicates_dropped > 0 {
        println!("- {} repeated key(s) dropped (first occurrence kept)", data.duplicates_dropped);
    }
    if present_01 > 0 {
        println!("- WARNING: {present_01} of the key+0x01 miss keys are dataset keys (counted as false hits)");
    }
    println!(
        "- build = insert the sorted keys + into_inner + Map::from_bytes (sorting not timed); image = Fst::size(); \
         lookup = every key once in memkv-compare's order (seed 2002), value checked; miss = every key + 0x01; \
         miss* = memkv-compare's absent-key set (seed 3, same as its \"miss\" column). MB = 10^6 bytes.\n"
    );
    println!("| variant | image MB | image/raw | build s | build Mkeys/s | lookup Mops/s | miss Mops/s | miss* Mops/s | correct |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut all_ok = true;
    for (vi, &v) in variants.iter().enumerate() {
        let rs = &runs[vi];
        let pick = |f: &dyn Fn(&Run) -> (f64, f64)| median(rs.iter().map(|r| if opt.wall { f(r).1 } else { f(r).0 }).collect());
        let image = median(rs.iter().map(|r| r.image).collect());
        let build = pick(&|r| r.build);
        let lookup = pick(&|r| r.lookup);
        let miss = pick(&|r| r.miss);
        let miss_cmp = pick(&|r| r.miss_cmp);
        let mops = |s: f64| if s > 0.0 { n as f64 / s / 1e6 } else { 0.0 };
        // Correctness: the worst round.
        let correct = rs.iter().map(|r| r.correct).min().unwrap_or(0);
        let false_hits = rs.iter().map(|r| r.false_hits + r.false_hits_cmp).max().unwrap_or(0);
        let ok = correct == n as u64 && false_hits == 0;
        all_ok &= ok;
        let cell = if ok {
            "100%".to_string()
        } else {
            let mut s = format!("**{:.3}% WRONG**", 100.0 * correct as f64 / n as f64);
            if false_hits > 0 {
                s += &format!(" **{false_hits} false hits**");
            }
            s
        };
        println!(
            "| fst::Map [{}] | {:.1} | {:.3}x | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            v.label(),
            image / 1e6,
            image / raw,
            build,
            mops(build),
            mops(lookup),
            mops(miss),
            mops(miss_cmp),
            cell
        );
    }
    println!();
    Ok(all_ok)
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("fst-peer: {e}");
            ExitCode::from(2)
        }
    }
}
