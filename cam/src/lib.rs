//! User-space CAM stack (issue 6): not written yet.
