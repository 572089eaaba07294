//! The local disk cache of remote objects: fixed-size blocks of each object, least recently used
//! evicted first, safe to share between processes.
//!
//! - **Keys.** A block is stored at `DIR/blocks-<block size>/<hh>/<hash of the key>-<n>.blk` and
//!   its header holds the key (the object's URL and its store's identity: endpoint, region,
//!   account, see [`super::remote_store::RemoteStore::with_identity`]), its version (ETag, or
//!   last-modified and size when the store has no ETag), its size and the block number. A block is served only when the key
//!   matches and the version is the one the server reports now ([`super::remote_store`] asks), so
//!   a changed object is never served from the cache, and a hash collision cannot serve another
//!   object's bytes.
//! - **Integrity.** A CRC-32 covers header and payload. A block that fails it (a torn disk, a
//!   hand-edited file) is counted as `corrupt`, deleted, and fetched again.
//! - **Atomic.** A block is written to a temporary file in its directory and renamed into place,
//!   so a reader in any process sees a whole block or none. A reader that opened a block before
//!   another process evicted it still reads it (POSIX unlink semantics).
//! - **LRU.** A block's modification time is its last use (a hit touches it). When the bytes this
//!   process believes are cached exceed `max_size`, it scans the directory (so blocks other
//!   processes wrote are counted) and deletes the least recently used blocks until the total is at
//!   most 90% of `max_size`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::ingest::manifest::fnv1a64;

const MAGIC: &[u8; 8] = b"TFBLOCK1";
/// magic, crc, url length, version length, object size, block number, payload length.
const FIXED_HEADER: usize = 8 + 4 + 4 + 4 + 8 + 8 + 8;

/// Which version of an object a block belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The ETag, or `modified:<nanos>` where the store gives none.
    pub tag: String,
    pub size: u64,
}

/// Counters of one cache, since the process started.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Blocks served from disk.
    pub hits: AtomicU64,
    /// Blocks fetched from the remote store.
    pub misses: AtomicU64,
    pub hit_bytes: AtomicU64,
    pub fetched_bytes: AtomicU64,
    /// GET requests sent (one per run of adjacent missing blocks).
    pub gets: AtomicU64,
    /// HEAD requests sent to check that cached blocks are current.
    pub heads: AtomicU64,
    /// Cached blocks of an older version of their object, replaced.
    pub stale: AtomicU64,
    /// Blocks that failed their checksum, deleted and fetched again.
    pub corrupt: AtomicU64,
    pub evictions: AtomicU64,
    pub evicted_bytes: AtomicU64,
}

/// A copy of [`CacheStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub hits: u64,
    pub misses: u64,
    pub hit_bytes: u64,
    pub fetched_bytes: u64,
    pub gets: u64,
    pub heads: u64,
    pub stale: u64,
    pub corrupt: u64,
    pub evictions: u64,
    pub evicted_bytes: u64,
}

impl CacheStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            hits: get(&self.hits),
            misses: get(&self.misses),
            hit_bytes: get(&self.hit_bytes),
            fetched_bytes: get(&self.fetched_bytes),
            gets: get(&self.gets),
            heads: get(&self.heads),
            stale: get(&self.stale),
            corrupt: get(&self.corrupt),
            evictions: get(&self.evictions),
            evicted_bytes: get(&self.evicted_bytes),
        }
    }
}

impl std::fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} hits ({}), {} misses ({} fetched in {} GETs), {} HEADs, {} stale, {} corrupt, {} evicted ({})",
            self.hits,
            human_bytes(self.hit_bytes),
            self.misses,
            human_bytes(self.fetched_bytes),
            self.gets,
            self.heads,
            self.stale,
            self.corrupt,
            self.evictions,
            human_bytes(self.evicted_bytes)
        )
    }
}

/// `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// One cache directory with one block size.
#[derive(Debug)]
pub struct BlockCache {
    root: PathBuf,
    dir: PathBuf,
    block_size: u64,
    max_bytes: AtomicU64,
    /// Bytes this process believes are cached (exact after each scan).
    used: AtomicU64,
    scan: Mutex<()>,
    next_tmp: AtomicU64,
    pub stats: CacheStats,
}

/// What the directory holds right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub blocks: u64,
    pub bytes: u64,
}

impl BlockCache {
    /// Opens (creating) the cache under `root`, bounded to `max_bytes`.
    pub fn open(root: &Path, block_size: u64, max_bytes: u64) -> std::io::Result<BlockCache> {
        let dir = root.join(format!("blocks-{block_size}"));
        fs::create_dir_all(&dir)?;
        let cache = BlockCache {
            root: root.to_path_buf(),
            dir,
            block_size,
            max_bytes: AtomicU64::new(max_bytes),
            used: AtomicU64::new(0),
            scan: Mutex::new(()),
            next_tmp: AtomicU64::new(0),
            stats: CacheStats::default(),
        };
        cache.used.store(cache.usage().bytes, Ordering::Relaxed);
        Ok(cache)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes.load(Ordering::Relaxed)
    }

    pub fn set_max_bytes(&self, max: u64) {
        if self.max_bytes.swap(max, Ordering::Relaxed) != max {
            self.evict_if_over();
        }
    }

    fn path(&self, url: &str, block: u64) -> PathBuf {
        let h = fnv1a64(url.as_bytes());
        self.dir
            .join(format!("{:02x}", h >> 56))
            .join(format!("{h:016x}-{block}.blk"))
    }

    /// The cached block `block` of `url`, with the version it belongs to. `None` when it is not
    /// cached; a block that fails its checksum is deleted (and counted) and is `None`.
    pub fn read(&self, url: &str, block: u64) -> Option<(Version, Bytes)> {
        let path = self.path(url, block);
        let data = fs::read(&path).ok()?;
        match decode(&data) {
            Some((u, version, b, payload)) if u == url && b == block => {
                Some((version, Bytes::copy_from_slice(payload)))
            }
            Some(_) => None, // another object with the same hash
            None => {
                self.stats.corrupt.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "object cache: {} failed its checksum; deleted, fetching again",
                    path.display()
                );
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Marks a block as just used (its place in the LRU order).
    pub fn touch(&self, url: &str, block: u64) {
        if let Ok(file) = fs::File::options().append(true).open(self.path(url, block)) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Stores a block atomically, then evicts if the cache is over its bound. A block larger
    /// than the whole bound is not stored.
    pub fn write(&self, url: &str, version: &Version, block: u64, payload: &[u8]) {
        let data = encode(url, version, block, payload);
        let len = data.len() as u64;
        if len > self.max_bytes() {
            return;
        }
        let path = self.path(url, block);
        let result = (|| -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(&self.dir);
            fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(
                ".tmp-{}-{}",
                std::process::id(),
                self.next_tmp.fetch_add(1, Ordering::Relaxed)
            ));
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&data)?;
            drop(file);
            fs::rename(&tmp, &path).inspect_err(|_| {
                let _ = fs::remove_file(&tmp);
            })
        })();
        match result {
            Ok(()) => {
                let used = self.used.fetch_add(len, Ordering::Relaxed) + len;
                if used > self.max_bytes() {
                    self.evict_if_over();
                }
            }
            Err(e) => tracing::warn!("object cache: cannot write {}: {e}", path.display()),
        }
    }

    /// Every block file with its size and last use.
    fn scan_blocks(&self) -> Vec<(SystemTime, u64, PathBuf)> {
        let mut out = Vec::new();
        let Ok(subdirs) = fs::read_dir(&self.dir) else {
            return out;
        };
        let old_tmp = SystemTime::now() - Duration::from_secs(3600);
        for sub in subdirs.flatten() {
            let Ok(files) = fs::read_dir(sub.path()) else {
                continue;
            };
            for file in files.flatten() {
                let Ok(meta) = file.metadata() else { continue };
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                let name = file.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".blk") {
                    out.push((modified, meta.len(), file.path()));
                } else if name.starts_with(".tmp-") && modified < old_tmp {
                    // Left by a process killed mid-write.
                    let _ = fs::remove_file(file.path());
                }
            }
        }
        out
    }

    pub fn usage(&self) -> Usage {
        let blocks = self.scan_blocks();
        Usage {
            blocks: blocks.len() as u64,
            bytes: blocks.iter().map(|b| b.1).sum(),
        }
    }

    /// Deletes least recently used blocks until the cache holds at most 90% of its bound.
    pub fn evict_if_over(&self) {
        let Ok(_guard) = self.scan.lock() else { return };
        let max = self.max_bytes();
        let mut blocks = self.scan_blocks();
        let mut total: u64 = blocks.iter().map(|b| b.1).sum();
        if total > max {
            let target = max / 10 * 9;
            blocks.sort();
            for (_, len, path) in blocks {
                if total <= target {
                    break;
                }
                if fs::remove_file(&path).is_ok() {
                    total -= len;
                    self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                    self.stats.evicted_bytes.fetch_add(len, Ordering::Relaxed);
                }
            }
            tracing::info!(
                "object cache {}: evicted down to {} of {}",
                self.root.display(),
                human_bytes(total),
                human_bytes(max)
            );
        }
        self.used.store(total, Ordering::Relaxed);
    }

    /// Deletes every block.
    pub fn clear(&self) -> Usage {
        let Ok(_guard) = self.scan.lock() else {
            return Usage {
                blocks: 0,
                bytes: 0,
            };
        };
        let blocks = self.scan_blocks();
        let mut removed = Usage {
            blocks: 0,
            bytes: 0,
        };
        for (_, len, path) in blocks {
            if fs::remove_file(&path).is_ok() {
                removed.blocks += 1;
                removed.bytes += len;
            }
        }
        self.used.store(0, Ordering::Relaxed);
        removed
    }
}

fn encode(url: &str, version: &Version, block: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED_HEADER + url.len() + version.tag.len() + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0; 4]); // the CRC, filled in below
    out.extend_from_slice(&(url.len() as u32).to_le_bytes());
    out.extend_from_slice(&(version.tag.len() as u32).to_le_bytes());
    out.extend_from_slice(&version.size.to_le_bytes());
    out.extend_from_slice(&block.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(url.as_bytes());
    out.extend_from_slice(version.tag.as_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[12..]);
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out
}

/// `(url, version, block, payload)`, or `None` when the bytes are not a whole, intact block.
fn decode(data: &[u8]) -> Option<(&str, Version, u64, &[u8])> {
    if data.len() < FIXED_HEADER || &data[..8] != MAGIC {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().unwrap_or([0; 8]));
    if crc32fast::hash(&data[12..]) != u32_at(8) {
        return None;
    }
    let url_len = u32_at(12) as usize;
    let tag_len = u32_at(16) as usize;
    let size = u64_at(20);
    let block = u64_at(28);
    let payload_len = u64_at(36) as usize;
    if FIXED_HEADER + url_len + tag_len + payload_len != data.len() {
        return None;
    }
    let url = std::str::from_utf8(&data[FIXED_HEADER..FIXED_HEADER + url_len]).ok()?;
    let tag_at = FIXED_HEADER + url_len;
    let tag = std::str::from_utf8(&data[tag_at..tag_at + tag_len]).ok()?;
    Some((
        url,
        Version {
            tag: tag.to_string(),
            size,
        },
        block,
        &data[tag_at + tag_len..],
    ))
}

/// Every cache this process opened. Queries of all sessions share one instance (and its
/// counters) per directory and block size.
static CACHES: Mutex<Vec<Arc<BlockCache>>> = Mutex::new(Vec::new());

/// The cache in `root` with `block_size`, opened once per process; `max_bytes` is the latest
/// bound any session asked for.
pub fn shared(root: &Path, block_size: u64, max_bytes: u64) -> std::io::Result<Arc<BlockCache>> {
    let mut caches = CACHES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(cache) = caches
        .iter()
        .find(|c| c.root == root && c.block_size == block_size)
    {
        cache.set_max_bytes(max_bytes);
        return Ok(Arc::clone(cache));
    }
    let cache = Arc::new(BlockCache::open(root, block_size, max_bytes)?);
    caches.push(Arc::clone(&cache));
    Ok(cache)
}

/// The caches this process has opened (for `\cache`).
pub fn opened() -> Vec<Arc<BlockCache>> {
    CACHES.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(tag: &str) -> Version {
        Version {
            tag: tag.into(),
            size: 100,
        }
    }

    #[test]
    fn blocks_round_trip_and_keep_their_version() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let cache = BlockCache::open(dir.path(), 4096, 1 << 20)?;
        cache.write("s3://b/k", &version("e1"), 3, b"payload");
        let (v, bytes) = cache.read("s3://b/k", 3).expect("cached");
        assert_eq!(v, version("e1"));
        assert_eq!(&bytes[..], b"payload");
        assert!(cache.read("s3://b/k", 2).is_none());
        assert!(cache.read("s3://b/other", 3).is_none());
        Ok(())
    }

    #[test]
    fn a_corrupt_block_is_dropped() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let cache = BlockCache::open(dir.path(), 4096, 1 << 20)?;
        cache.write("s3://b/k", &version("e1"), 0, &[7u8; 1000]);
        let path = cache.path("s3://b/k", 0);
        let mut data = fs::read(&path)?;
        let last = data.len() - 1;
        data[last] ^= 0xff;
        fs::write(&path, &data)?;
        assert!(cache.read("s3://b/k", 0).is_none());
        assert_eq!(cache.stats.snapshot().corrupt, 1);
        assert!(!path.exists(), "the corrupt block is deleted");
        // A truncated block too.
        cache.write("s3://b/k", &version("e1"), 0, &[7u8; 1000]);
        fs::write(&path, &fs::read(&path)?[..500])?;
        assert!(cache.read("s3://b/k", 0).is_none());
        assert_eq!(cache.stats.snapshot().corrupt, 2);
        Ok(())
    }

    #[test]
    fn eviction_drops_the_least_recently_used() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let block = 10_000;
        let entry = FIXED_HEADER as u64 + "s3://b/k".len() as u64 + 2 + block;
        // Room for three blocks.
        let cache = BlockCache::open(dir.path(), block, entry * 3 + 10)?;
        let payload = vec![1u8; block as usize];
        for n in 0..3 {
            cache.write("s3://b/k", &version("e1"), n, &payload);
            std::thread::sleep(Duration::from_millis(20));
        }
        cache.touch("s3://b/k", 0);
        std::thread::sleep(Duration::from_millis(20));
        cache.write("s3://b/k", &version("e1"), 3, &payload);
        // Over the bound: down to 90% of it, i.e. two blocks, the least recently used gone.
        let usage = cache.usage();
        assert!(usage.bytes <= cache.max_bytes(), "{usage:?}");
        assert_eq!(usage.blocks, 2);
        assert!(cache.read("s3://b/k", 0).is_some(), "used recently");
        assert!(cache.read("s3://b/k", 3).is_some(), "just written");
        assert!(cache.read("s3://b/k", 1).is_none());
        assert!(cache.read("s3://b/k", 2).is_none());
        assert_eq!(cache.stats.snapshot().evictions, 2);
        Ok(())
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
