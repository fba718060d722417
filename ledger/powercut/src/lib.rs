//! A SQLite VFS that simulates a power cut, for tests of what survives one.
//!
//! A process killed with SIGKILL leaves the operating system's page cache behind it: whatever it
//! wrote reaches the disk in the end, fsynced or not, so a kill test passes even when nothing is
//! ever fsynced. A power cut loses the page cache. This VFS wraps SQLite's default `unix` VFS
//! (every byte still goes to the real files, which the running program reads back) and keeps,
//! beside each file, a *durable image*: what the disk holds for certain.
//!
//! # The model
//!
//! - **File contents.** Every write and truncation is recorded, in order, per file (per inode: a
//!   file deleted and created again under its name is another file). An `xSync` of a file makes
//!   everything recorded for it so far durable. Nothing else does.
//! - **Directory entries.** Creating or deleting a file changes its directory; the change is
//!   durable once the directory is synced. SQLite's `unix` VFS syncs a directory at two points,
//!   which this VFS follows: the first `xSync` of a rollback journal, super-journal or WAL file
//!   that it opened with `SQLITE_OPEN_CREATE` (`UNIXFILE_DIRSYNC` in `sqlite3.c`), and an
//!   `xDelete` asked to sync (`dirSync & 1`). A file whose creation was never made durable so
//!   vanishes at the cut, contents and all, even if the file itself was synced; a file whose
//!   deletion was not made durable comes back with its durable contents.
//! - **The cut** ([`Loss`]). With [`Loss::Unsynced`], the disk after the cut holds exactly the
//!   durable images: every write and every directory change since the last sync that covers it is
//!   dropped. With [`Loss::Torn`] the disk may also have taken any part of what was not synced,
//!   as a real one may: each pending write survives whole, not at all, or torn (some of its
//!   512-byte sectors and not others; bytes outside what was written never change, which is the
//!   "powersafe overwrite" SQLite assumes by default), each pending truncation and each pending
//!   directory change survives or not, all chosen by a seed. An fsync is a barrier in both: what
//!   it covered is on the disk whatever happens after it.
//! - **Not modelled:** the `-shm` index (SQLite maps it into memory and rebuilds it from the WAL
//!   when it opens a database no one has open, as after a reboot: it is left out of the image),
//!   temporary files, and a disk that lies about fsync.
//!
//! The live files are never fsynced for real (the durable image is what survives), which keeps
//! thousands of simulated commits fast.
//!
//! [`install`] makes the VFS the process's default, so every connection that names no VFS goes
//! through it; [`arm`] sets a cut to fall just before a given operation (a write, truncation,
//! sync, create or delete of a file in a directory, counted from the arming) on whichever thread
//! makes it, and [`cut`] cuts at once. The [`Image`] taken at the cut is what a machine would
//! find on its disk when the power came back.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CStr, OsStr, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use libsqlite3_sys as ffi;

/// The name the VFS registers under.
pub const NAME: &CStr = c"powercut";

/// The unit in which a write not yet synced may reach the disk in part.
pub const SECTOR: u64 = 512;

/// What the disk keeps of what was not synced when the power goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Nothing: only what an fsync covered is there.
    Unsynced,
    /// Any part of it, chosen by this seed (see the module's documentation).
    Torn(u64),
}

/// The files of one directory as the disk holds them after a cut.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// File name → contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The operation just before which the power went, counted from the arming (0 for [`cut`]).
    pub at: u64,
    /// Writes not covered by a sync when the power went (in the whole process).
    pub unsynced_writes: usize,
    /// The name of the thread whose operation the power cut fell before.
    pub thread: Option<String>,
}

impl Image {
    /// Writes the files into `dir` (created if needed), as the disk would show them.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, bytes) in &self.files {
            std::fs::write(dir.join(name), bytes)?;
        }
        Ok(())
    }
}

/// Registers the VFS as the default of every connection opened afterwards (once; later calls do
/// nothing).
///
/// # Panics
///
/// If SQLite has no `unix` VFS or refuses the registration.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // SAFETY: sqlite3_vfs_find initialises SQLite and returns a VFS that lives as long as
        // the process, or null.
        let unix = unsafe { ffi::sqlite3_vfs_find(c"unix".as_ptr()) };
        assert!(!unix.is_null(), "SQLite has no unix VFS");
        // SAFETY: non-null and never unregistered.
        let base = unsafe { &*unix };
        let size = usize::try_from(base.szOsFile).expect("a file size");
        let vfs = Box::new(ffi::sqlite3_vfs {
            iVersion: base.iVersion,
            szOsFile: c_int::try_from(REAL_AT + size).expect("a file size"),
            mxPathname: base.mxPathname,
            pNext: std::ptr::null_mut(),
            zName: NAME.as_ptr(),
            pAppData: base.pAppData,
            xOpen: Some(open),
            xDelete: Some(delete),
            // The rest never use the VFS they are given but for the fields copied here.
            xAccess: base.xAccess,
            xFullPathname: base.xFullPathname,
            xDlOpen: base.xDlOpen,
            xDlError: base.xDlError,
            xDlSym: base.xDlSym,
            xDlClose: base.xDlClose,
            xRandomness: base.xRandomness,
            xSleep: base.xSleep,
            xCurrentTime: base.xCurrentTime,
            xGetLastError: base.xGetLastError,
            xCurrentTimeInt64: base.xCurrentTimeInt64,
            xSetSystemCall: base.xSetSystemCall,
            xGetSystemCall: base.xGetSystemCall,
            xNextSystemCall: base.xNextSystemCall,
        });
        UNIX.set(unix as usize).expect("installed once");
        let vfs = Box::leak(vfs);
        // SAFETY: the VFS is leaked, so it outlives every connection.
        let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 1) };
        assert_eq!(rc, ffi::SQLITE_OK, "registering the powercut VFS");
    });
}

/// Arms a cut of the files under `root`: the power goes just before the `after`-th operation
/// from now (1 = the next one). Replaces a cut armed before that has not fallen.
pub fn arm(root: &Path, after: u64, loss: Loss) {
    let mut state = state();
    state.ops = 0;
    state.image = None;
    state.armed = Some(Armed {
        root: root.to_path_buf(),
        at: after.max(1),
        loss,
    });
}

/// Whether the armed cut has fallen.
pub fn fallen() -> bool {
    state().image.is_some()
}

/// The image the armed cut took, once it has fallen.
pub fn take() -> Option<Image> {
    state().image.take()
}

/// Cuts the power to the files under `root` now, disarming any cut armed.
pub fn cut(root: &Path, loss: Loss) -> Image {
    let mut state = state();
    state.armed = None;
    state.image = None;
    state.image(root, loss, 0)
}

/// Operations counted since the last [`arm`].
pub fn ops() -> u64 {
    state().ops
}

/// Forgets the files under `root` (a directory no longer used), freeing their images.
pub fn forget(root: &Path) {
    let mut state = state();
    let state = &mut *state;
    for map in [&mut state.live, &mut state.durable] {
        let gone: Vec<PathBuf> = map
            .keys()
            .filter(|p| p.starts_with(root))
            .cloned()
            .collect();
        for path in gone {
            if let Some(inode) = map.remove(&path) {
                state.inodes[inode] = Inode::default();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// One write or truncation not yet covered by a sync.
enum Op {
    Write { offset: u64, bytes: Vec<u8> },
    Truncate(u64),
}

/// A file's contents: durable, and what was done to it since.
#[derive(Default)]
struct Inode {
    durable: Vec<u8>,
    pending: Vec<Op>,
}

struct Armed {
    root: PathBuf,
    at: u64,
    loss: Loss,
}

#[derive(Default)]
struct State {
    inodes: Vec<Inode>,
    /// Directory entries as the running program sees them.
    live: BTreeMap<PathBuf, usize>,
    /// Directory entries as the disk holds them for certain.
    durable: BTreeMap<PathBuf, usize>,
    ops: u64,
    armed: Option<Armed>,
    image: Option<Image>,
}

fn state() -> MutexGuard<'static, State> {
    static STATE: Mutex<State> = Mutex::new(State {
        inodes: Vec::new(),
        live: BTreeMap::new(),
        durable: BTreeMap::new(),
        ops: 0,
        armed: None,
        image: None,
    });
    // A panic elsewhere leaves the maps as consistent as any operation does.
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    /// Counts an operation on `path` (if it is under the armed root), cutting the power first
    /// when it is the one armed.
    fn operation(&mut self, path: &Path) {
        let Some(armed) = &self.armed else { return };
        if !path.starts_with(&armed.root) {
            return;
        }
        self.ops += 1;
        if self.ops >= armed.at {
            let (root, loss, at) = (armed.root.clone(), armed.loss, armed.at);
            self.armed = None;
            self.image = Some(self.image(&root, loss, at));
        }
    }

    fn new_inode(&mut self, durable: Vec<u8>) -> usize {
        self.inodes.push(Inode {
            durable,
            pending: Vec::new(),
        });
        self.inodes.len() - 1
    }

    fn sync_file(&mut self, inode: usize) {
        let inode = &mut self.inodes[inode];
        for op in inode.pending.drain(..) {
            apply(&mut inode.durable, &op, None);
        }
    }

    fn sync_dir(&mut self, dir: &Path) {
        let in_dir = |p: &PathBuf| p.parent() == Some(dir);
        self.durable.retain(|p, _| !in_dir(p));
        for (path, &inode) in self.live.iter().filter(|(p, _)| in_dir(p)) {
            self.durable.insert(path.clone(), inode);
        }
    }

    fn image(&self, root: &Path, loss: Loss, at: u64) -> Image {
        let mut rng = match loss {
            Loss::Unsynced => None,
            Loss::Torn(seed) => Some(Rng(seed)),
        };
        let under = |p: &&PathBuf| p.starts_with(root);
        let names: BTreeSet<&PathBuf> = self
            .live
            .keys()
            .filter(under)
            .chain(self.durable.keys().filter(under))
            .collect();
        let mut files = BTreeMap::new();
        for path in names {
            let durable = self.durable.get(path).copied();
            let live = self.live.get(path).copied();
            let entry = match &mut rng {
                Some(rng) if durable != live => {
                    if rng.below(2) == 0 {
                        live
                    } else {
                        durable
                    }
                }
                _ => durable,
            };
            let Some(inode) = entry else { continue };
            let inode = &self.inodes[inode];
            let mut bytes = inode.durable.clone();
            if let Some(rng) = &mut rng {
                for op in &inode.pending {
                    match rng.below(4) {
                        0 => {}
                        1 | 2 => apply(&mut bytes, op, None),
                        _ => apply(&mut bytes, op, Some(rng)),
                    }
                }
            }
            let name = path
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.insert(name, bytes);
        }
        Image {
            files,
            at,
            unsynced_writes: self.inodes.iter().map(|i| i.pending.len()).sum(),
            thread: std::thread::current().name().map(str::to_string),
        }
    }
}

/// Applies one operation to a file's bytes; `tear` keeps a write's sectors each at random.
fn apply(bytes: &mut Vec<u8>, op: &Op, tear: Option<&mut Rng>) {
    match op {
        Op::Truncate(len) => bytes.truncate(usize::try_from(*len).unwrap_or(usize::MAX)),
        Op::Write {
            offset,
            bytes: data,
        } => {
            let start = usize::try_from(*offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(data.len());
            let mut put = |from: usize, to: usize| {
                if bytes.len() < to {
                    bytes.resize(to, 0);
                }
                bytes[from..to].copy_from_slice(&data[from - start..to - start]);
            };
            match tear {
                None => put(start, end),
                Some(rng) => {
                    let sector = SECTOR as usize;
                    let mut from = start;
                    while from < end {
                        let to = ((from / sector + 1) * sector).min(end);
                        if rng.below(2) == 0 {
                            put(from, to);
                        }
                        from = to;
                    }
                }
            }
        }
    }
}

/// SplitMix64: the tearing must replay from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

// ---------------------------------------------------------------------------------------------
// The VFS and its files.

/// The `unix` VFS, as an address (raw pointers are not `Sync`).
static UNIX: OnceLock<usize> = OnceLock::new();

fn unix() -> *mut ffi::sqlite3_vfs {
    *UNIX.get().expect("installed") as *mut ffi::sqlite3_vfs
}

/// Not a tracked file.
const UNTRACKED: usize = usize::MAX;

/// The file SQLite holds: ours, with the `unix` VFS's file after it at [`REAL_AT`].
#[repr(C)]
struct Handle {
    base: ffi::sqlite3_file,
    inode: usize,
    path: *mut PathBuf,
    /// The `unix` VFS syncs the directory on this file's first sync.
    dir_sync: bool,
}

const REAL_AT: usize = std::mem::size_of::<Handle>().next_multiple_of(16);

/// The `unix` VFS's file inside ours.
///
/// # Safety
///
/// `file` is a file of this VFS (SQLite allocated `szOsFile` bytes for it).
unsafe fn real(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: within the allocation of szOsFile = REAL_AT + the unix VFS's size.
    unsafe { file.cast::<u8>().add(REAL_AT).cast() }
}

/// The `unix` VFS's methods for `real`.
///
/// # Safety
///
/// `real` is an open `unix` file.
unsafe fn methods<'a>(real: *mut ffi::sqlite3_file) -> &'a ffi::sqlite3_io_methods {
    // SAFETY: an open file has its methods.
    unsafe { &*(*real).pMethods }
}

fn path_of(name: *const c_char) -> Option<PathBuf> {
    if name.is_null() {
        return None;
    }
    // SAFETY: SQLite passes a NUL-terminated file name.
    let bytes = unsafe { CStr::from_ptr(name) }.to_bytes();
    Some(PathBuf::from(OsStr::from_bytes(bytes)))
}

const TYPE_MASK: c_int = 0x000F_FF00;

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let kind = flags & TYPE_MASK;
    let tracked = matches!(
        kind,
        ffi::SQLITE_OPEN_MAIN_DB
            | ffi::SQLITE_OPEN_MAIN_JOURNAL
            | ffi::SQLITE_OPEN_SUPER_JOURNAL
            | ffi::SQLITE_OPEN_WAL
    ) && flags & ffi::SQLITE_OPEN_DELETEONCLOSE == 0;
    let path = path_of(name).filter(|_| tracked);
    let create = flags & ffi::SQLITE_OPEN_CREATE != 0;
    let handle = file.cast::<Handle>();
    let mut state = state();
    let existed = path.as_ref().is_none_or(|p| p.exists());
    if !existed
        && create
        && let Some(path) = &path
    {
        state.operation(path);
    }
    let unix = unix();
    // SAFETY: SQLite gave us szOsFile bytes; the real file lives at REAL_AT within them.
    let rc = unsafe {
        let real = real(file);
        ((*unix).xOpen.expect("unix xOpen"))(unix, name, real, flags, out_flags)
    };
    let mut inode = UNTRACKED;
    if rc == ffi::SQLITE_OK
        && let Some(path) = &path
    {
        inode = match state.live.get(path) {
            Some(&inode) => inode,
            None => {
                let inode = if existed {
                    // There before the VFS saw it: taken as durable.
                    let inode = state.new_inode(std::fs::read(path).unwrap_or_default());
                    state.durable.insert(path.clone(), inode);
                    inode
                } else {
                    state.new_inode(Vec::new())
                };
                state.live.insert(path.clone(), inode);
                inode
            }
        };
    }
    let ours = Handle {
        base: ffi::sqlite3_file {
            pMethods: if rc == ffi::SQLITE_OK {
                &METHODS
            } else {
                std::ptr::null()
            },
        },
        inode,
        path: match (&path, rc) {
            (Some(p), ffi::SQLITE_OK) => Box::into_raw(Box::new(p.clone())),
            _ => std::ptr::null_mut(),
        },
        dir_sync: create
            && matches!(
                kind,
                ffi::SQLITE_OPEN_MAIN_JOURNAL
                    | ffi::SQLITE_OPEN_SUPER_JOURNAL
                    | ffi::SQLITE_OPEN_WAL
            ),
    };
    // SAFETY: the first bytes of SQLite's allocation are ours.
    unsafe { handle.write(ours) };
    rc
}

unsafe extern "C" fn delete(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync: c_int,
) -> c_int {
    let mut state = state();
    let path = path_of(name);
    if let Some(path) = &path {
        state.operation(path);
    }
    let unix = unix();
    // The directory is synced in the model, not for real.
    // SAFETY: forwarded as given.
    let rc = unsafe { ((*unix).xDelete.expect("unix xDelete"))(unix, name, 0) };
    if rc == ffi::SQLITE_OK
        && let Some(path) = path
    {
        state.live.remove(&path);
        if sync & 1 != 0
            && let Some(dir) = path.parent()
        {
            state.sync_dir(dir);
        }
    }
    rc
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

/// Calls the `unix` file's method `$m`, or answers `$none` when it has none.
macro_rules! forward {
    ($file:expr, $m:ident, $none:expr $(, $arg:expr)*) => {{
        // SAFETY: SQLite calls a file's methods only while it is open.
        unsafe {
            let real = real($file);
            match methods(real).$m {
                Some(f) => f(real $(, $arg)*),
                None => $none,
            }
        }
    }};
}

/// A handle's inode and path, when it is a tracked file.
///
/// # Safety
///
/// `file` is an open file of this VFS; the path lives until it is closed.
unsafe fn tracked<'a>(file: *mut ffi::sqlite3_file) -> (usize, Option<&'a Path>) {
    // SAFETY: written at open.
    let handle = unsafe { &*file.cast::<Handle>() };
    if handle.inode == UNTRACKED || handle.path.is_null() {
        return (UNTRACKED, None);
    }
    // SAFETY: set at open, dropped at close.
    (handle.inode, Some(unsafe { &*handle.path }.as_path()))
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let rc = forward!(file, xClose, ffi::SQLITE_OK);
    // SAFETY: the handle was written at open; its path is dropped once.
    unsafe {
        let handle = &mut *file.cast::<Handle>();
        if !handle.path.is_null() {
            drop(Box::from_raw(handle.path));
            handle.path = std::ptr::null_mut();
        }
    }
    rc
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    forward!(file, xRead, ffi::SQLITE_IOERR, buf, amount, offset)
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: written at open; a tracked handle has its path until it is closed.
    let (inode, path) = unsafe { tracked(file) };
    let Some(path) = path else {
        return forward!(file, xWrite, ffi::SQLITE_IOERR, buf, amount, offset);
    };
    let mut state = state();
    state.operation(path);
    let rc = forward!(file, xWrite, ffi::SQLITE_IOERR, buf, amount, offset);
    if rc == ffi::SQLITE_OK {
        let len = usize::try_from(amount).unwrap_or(0);
        // SAFETY: SQLite passes `amount` readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }.to_vec();
        state.inodes[inode].pending.push(Op::Write {
            offset: u64::try_from(offset).unwrap_or(0),
            bytes,
        });
    }
    rc
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    // SAFETY: as in `write`.
    let (inode, path) = unsafe { tracked(file) };
    let Some(path) = path else {
        return forward!(file, xTruncate, ffi::SQLITE_IOERR, size);
    };
    let mut state = state();
    state.operation(path);
    let rc = forward!(file, xTruncate, ffi::SQLITE_IOERR, size);
    if rc == ffi::SQLITE_OK {
        state.inodes[inode]
            .pending
            .push(Op::Truncate(u64::try_from(size).unwrap_or(0)));
    }
    rc
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: as in `write`.
    let (inode, path) = unsafe { tracked(file) };
    let Some(path) = path else {
        return forward!(file, xSync, ffi::SQLITE_IOERR, flags);
    };
    let mut state = state();
    state.operation(path);
    state.sync_file(inode);
    // SAFETY: written at open.
    let handle = unsafe { &mut *file.cast::<Handle>() };
    if handle.dir_sync {
        handle.dir_sync = false;
        if let Some(dir) = path.parent() {
            state.sync_dir(dir);
        }
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    forward!(file, xFileSize, ffi::SQLITE_IOERR, size)
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xLock, ffi::SQLITE_OK, level)
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xUnlock, ffi::SQLITE_OK, level)
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(file, xCheckReservedLock, ffi::SQLITE_OK, out)
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    forward!(file, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xSectorSize, 4096)
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xDeviceCharacteristics, 0)
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(file, xShmMap, ffi::SQLITE_IOERR, page, size, extend, out)
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    forward!(file, xShmLock, ffi::SQLITE_IOERR, offset, n, flags)
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    forward!(file, xShmBarrier, ())
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(file, xShmUnmap, ffi::SQLITE_OK, delete)
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // Without a mapping SQLite reads through xRead; no data is ever written through one.
    forward!(
        file,
        xFetch,
        {
            // SAFETY: `out` is SQLite's (inside the macro's unsafe block).
            *out = std::ptr::null_mut();
            ffi::SQLITE_OK
        },
        offset,
        amount,
        out
    )
}

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    p: *mut c_void,
) -> c_int {
    forward!(file, xUnfetch, ffi::SQLITE_OK, offset, p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn a_torn_write_keeps_whole_sectors_of_what_was_written_and_nothing_else() {
        let mut bytes = vec![7u8; 2048];
        let op = Op::Write {
            offset: 100,
            bytes: vec![1u8; 1500],
        };
        apply(&mut bytes, &op, Some(&mut Rng(3)));
        assert_eq!(bytes.len(), 2048);
        assert!(bytes[..100].iter().all(|&b| b == 7));
        assert!(bytes[1600..].iter().all(|&b| b == 7));
        for sector in [100..512, 512..1024, 1024..1536, 1536..1600] {
            let kept = &bytes[sector];
            assert!(kept.iter().all(|&b| b == 1) || kept.iter().all(|&b| b == 7));
        }
    }
}
