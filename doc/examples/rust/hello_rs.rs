//! hello_rs.rs - an example pgmove plugin in Rust, built with rustc alone:
//! no cargo, no crates (crates.io is not needed, and pgmove's CI has no
//! network). The C ABI of <pgmove/plugin.h> is declared here by hand with
//! #[repr(C)]; keep it in step with the header's PGMOVE_PLUGIN_ABI (4).
//! What Rust changes, against pgmove-plugin(3):
//!
//!  - every function pgmove calls is `extern "C"` and lets no panic out:
//!    `guarded` runs the body under catch_unwind and turns a panic into the
//!    call's structured error (a panic escaping an extern "C" function
//!    aborts the process, which pgmove would journal as a plugin crash);
//!  - the descriptor, function and parameter tables are statics of
//!    #[repr(C)] structs holding raw pointers, so they are marked Sync;
//!  - only `hello_rs_LTX_pgmove_plugin` is exported (#[no_mangle] in a
//!    cdylib); link with -lpgmove -ljansson and -Wl,-z,defs;
//!  - json_t values are jansson's: a result is a new reference that pgmove
//!    takes over; arguments are borrowed.
use std::os::raw::{c_char, c_int, c_uint, c_ulong};
use std::panic::{catch_unwind, AssertUnwindSafe};

#[repr(C)]
pub struct PgmCall {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct Json {
    _opaque: [u8; 0],
}

type PgmFn = unsafe extern "C" fn(*mut PgmCall, *mut Json) -> *mut Json;

#[repr(C)]
pub struct PgmParam {
    name: *const c_char,
    ty: *const c_char,
    required: c_int,
    secret: c_int,
    summary: *const c_char,
    dflt: *const c_char,
    min: *const c_char,
    max: *const c_char,
    allowed: *const *const c_char,
}
#[repr(C)]
pub struct PgmFunction {
    name: *const c_char,
    func: Option<PgmFn>,
    flags: c_uint,
    summary: *const c_char,
    params: *const PgmParam,
}
#[repr(C)]
pub struct PgmPlugin {
    abi: c_int,
    name: *const c_char,
    version: *const c_char,
    summary: *const c_char,
    init: Option<unsafe extern "C" fn() -> c_int>,
    fini: Option<unsafe extern "C" fn()>,
    functions: *const PgmFunction,
    min_pgmove: c_ulong,
    configure: Option<unsafe extern "C" fn(*mut PgmCall, *mut Json) -> c_int>,
    config: *const PgmParam,
}
// The tables are immutable statics that pgmove only reads.
unsafe impl Sync for PgmParam {}
unsafe impl Sync for PgmFunction {}
unsafe impl Sync for PgmPlugin {}

const PGMOVE_PLUGIN_ABI: c_int = 4;
const PGM_FN_IDEMPOTENT: c_uint = 1;
const PGM_FN_READ_ONLY: c_uint = 2;

extern "C" {
    fn pgm_fail(
        call: *mut PgmCall,
        code: *const c_char,
        retryable: c_int,
        fmt: *const c_char,
        ...
    ) -> *mut Json;
    fn json_object_get(object: *const Json, key: *const c_char) -> *mut Json;
    fn json_string_value(value: *const Json) -> *const c_char;
    fn json_object() -> *mut Json;
    fn json_object_set_new(object: *mut Json, key: *const c_char, value: *mut Json) -> c_int;
    fn json_stringn(value: *const c_char, len: usize) -> *mut Json;
}

/// z - a NUL-terminated literal as a C string.
macro_rules! z {
    ($s:expr) => {
        concat!($s, "\0").as_ptr() as *const c_char
    };
}

/// fail - records the call's error (message passed as an argument, never as
/// the format) and returns NULL.
fn fail(call: *mut PgmCall, code: &str, msg: &str) -> *mut Json {
    let code = format!("{}\0", code);
    let msg = format!("{}\0", msg.replace('\0', " "));
    unsafe {
        pgm_fail(
            call,
            code.as_ptr() as *const c_char,
            0,
            z!("%s"),
            msg.as_ptr() as *const c_char,
        )
    }
}

/// string_arg - a string argument of args (borrowed), if present.
fn string_arg(args: *mut Json, name: *const c_char) -> Option<String> {
    unsafe {
        let v = json_string_value(json_object_get(args, name));
        if v.is_null() {
            None
        } else {
            Some(std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned())
        }
    }
}

/// guarded - runs body; a panic becomes the call's error "hello_rs.panic".
fn guarded(call: *mut PgmCall, body: impl FnOnce() -> Result<*mut Json, String>) -> *mut Json {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => fail(call, "args.invalid", &msg),
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            fail(
                call,
                "hello_rs.panic",
                &format!("the plugin panicked: {}", what),
            )
        }
    }
}

/// greet - {"message": "Hello, NAME! (from Rust)"}; name "panic" panics, to
/// show that a panic is an error, not a crash.
extern "C" fn greet(call: *mut PgmCall, args: *mut Json) -> *mut Json {
    guarded(call, || {
        let name = string_arg(args, z!("name")).ok_or("argument 'name' is required")?;
        if name == "panic" {
            panic!("asked to panic");
        }
        let msg = format!("Hello, {}! (from Rust)", name);
        let out = unsafe { json_object() };
        unsafe {
            json_object_set_new(
                out,
                z!("message"),
                json_stringn(msg.as_ptr() as *const c_char, msg.len()),
            );
        }
        Ok(out)
    })
}

static GREET_PARAMS: [PgmParam; 2] = [
    PgmParam {
        name: z!("name"),
        ty: z!("string"),
        required: 1,
        secret: 0,
        summary: z!("who to greet (\"panic\" panics)"),
        dflt: std::ptr::null(),
        min: std::ptr::null(),
        max: std::ptr::null(),
        allowed: std::ptr::null(),
    },
    PgmParam {
        name: std::ptr::null(),
        ty: std::ptr::null(),
        required: 0,
        secret: 0,
        summary: std::ptr::null(),
        dflt: std::ptr::null(),
        min: std::ptr::null(),
        max: std::ptr::null(),
        allowed: std::ptr::null(),
    },
];

static FUNCTIONS: [PgmFunction; 2] = [
    PgmFunction {
        name: z!("greet"),
        func: Some(greet),
        flags: PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY,
        summary: z!("a greeting, from Rust"),
        params: &GREET_PARAMS as *const PgmParam,
    },
    PgmFunction {
        name: std::ptr::null(),
        func: None,
        flags: 0,
        summary: std::ptr::null(),
        params: std::ptr::null(),
    },
];

#[no_mangle]
pub static hello_rs_LTX_pgmove_plugin: PgmPlugin = PgmPlugin {
    abi: PGMOVE_PLUGIN_ABI,
    name: z!("hello_rs"),
    version: z!("1.0.0"),
    summary: z!("an example plugin in Rust (no crates)"),
    init: None,
    fini: None,
    functions: &FUNCTIONS as *const PgmFunction,
    min_pgmove: 100,
    configure: None,
    config: std::ptr::null(),
};
