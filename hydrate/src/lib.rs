//! The browser entry point: hydrates the islands of the server-rendered page.
//!
//! The app runs in islands mode, so the pages themselves are never re-rendered in the browser:
//! only components marked `#[island]` ship here (none yet), and links and forms are the
//! browser's own. The script that `HydrationScripts` writes calls `hydrate` and then each island.

/// Called by the islands script once the wasm module has loaded.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
