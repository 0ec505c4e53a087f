//! Device quirks keyed by INQUIRY vendor/product/revision, as FreeBSD's `xpt_quirk_table`
//! and `da_quirk_table`: shell-style patterns (`*`, `?`) and what the stack does
//! differently for a matching device. Matched once at probe; user entries come first.

/// What the stack does differently for a device.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Never use tagged queuing (FreeBSD quirk `mintags = maxtags = 0`).
    pub no_tags: bool,
    /// Never send 6-byte READ/WRITE (`DA_Q_NO_6_BYTE`).
    pub no_6byte: bool,
    /// Do not send REPORT LUNS; scan LUNs sequentially (`CAM_QUIRK_NORPTLUNS`).
    pub no_report_luns: bool,
    /// Only LUN 0: scan no other LUN (`CAM_QUIRK_NOLUNS`), for a device that answers at
    /// every LUN as LUN 0.
    pub no_luns: bool,
    /// Most tags the device can take (`maxtags`), if it lies about its queue depth.
    pub max_tags: Option<u32>,
    /// The unit must be started (START STOP UNIT) before use.
    pub start_unit: bool,
}

/// One quirk table row: patterns for INQUIRY vendor, product and revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuirkEntry {
    /// Vendor pattern.
    pub vendor: String,
    /// Product pattern.
    pub product: String,
    /// Revision pattern.
    pub revision: String,
    /// The quirks.
    pub quirks: Quirks,
}

impl QuirkEntry {
    /// An entry for the given patterns.
    pub fn new(vendor: &str, product: &str, revision: &str, quirks: Quirks) -> Self {
        QuirkEntry {
            vendor: vendor.into(),
            product: product.into(),
            revision: revision.into(),
            quirks,
        }
    }
    /// Whether the entry matches a device's INQUIRY strings.
    pub fn matches(&self, vendor: &str, product: &str, revision: &str) -> bool {
        glob(&self.vendor, vendor) && glob(&self.product, product) && glob(&self.revision, revision)
    }
}

/// A quirk entry typed by a user that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuirkParseError {
    /// Not `VENDOR/PRODUCT/REVISION=QUIRK[,QUIRK...]`.
    #[error("quirk entry {0:?}: expected VENDOR/PRODUCT/REVISION=QUIRK[,QUIRK...]")]
    Form(String),
    /// A quirk name not known.
    #[error(
        "unknown quirk {0:?}: known are no-luns, no-report-luns, no-tags, no-6byte, \
         start-unit, max-tags=N"
    )]
    Unknown(String),
    /// `max-tags` without a number of 1 or more.
    #[error("max-tags needs a number of 1 or more, not {0:?}")]
    MaxTags(String),
}

impl std::str::FromStr for QuirkEntry {
    type Err = QuirkParseError;

    /// `VENDOR/PRODUCT/REVISION=QUIRK[,QUIRK...]`, each part a pattern as [`glob`]. The
    /// product may hold `/` (the vendor ends at the first, the revision starts after the
    /// last); write `?` for a `=` in a pattern.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let form = || QuirkParseError::Form(s.into());
        let (pats, list) = s.split_once('=').ok_or_else(form)?;
        let (vendor, rest) = pats.split_once('/').ok_or_else(form)?;
        let (product, revision) = rest.rsplit_once('/').ok_or_else(form)?;
        if [vendor, product, revision].iter().any(|p| p.is_empty()) || list.is_empty() {
            return Err(form());
        }
        let mut q = Quirks::default();
        for name in list.split(',').map(str::trim) {
            match name {
                "no-luns" => q.no_luns = true,
                "no-report-luns" => q.no_report_luns = true,
                "no-tags" => q.no_tags = true,
                "no-6byte" => q.no_6byte = true,
                "start-unit" => q.start_unit = true,
                _ => match name.strip_prefix("max-tags=") {
                    Some(n) => match n.parse::<u32>() {
                        Ok(v) if v > 0 => q.max_tags = Some(v),
                        _ => return Err(QuirkParseError::MaxTags(n.into())),
                    },
                    None => return Err(QuirkParseError::Unknown(name.into())),
                },
            }
        }
        Ok(QuirkEntry::new(vendor, product, revision, q))
    }
}

/// Shell-style match (`*` any run, `?` any one character), as FreeBSD's `cam_strmatch`.
pub fn glob(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    // Iterative match with one backtrack point for the last '*'.
    let (mut i, mut j, mut star, mut mark) = (0usize, 0usize, None, 0usize);
    while j < s.len() {
        if i < p.len() && (p[i] == '?' || p[i] == s[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(st) = star {
            i = st + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Built-in entries (examples of the kinds FreeBSD carries; user entries are consulted
/// first through `Xpt::add_quirk`).
pub fn builtin() -> Vec<QuirkEntry> {
    vec![
        // Old drives that hang on REPORT LUNS (FreeBSD xpt_quirk_table style).
        QuirkEntry::new(
            "NEC",
            "CD-ROM DRIVE:84*",
            "*",
            Quirks {
                no_report_luns: true,
                no_tags: true,
                ..Default::default()
            },
        ),
        // Drives that reject 6-byte commands (FreeBSD da_quirk_table DA_Q_NO_6_BYTE).
        QuirkEntry::new(
            "IOMEGA",
            "ZIP*",
            "*",
            Quirks {
                no_6byte: true,
                ..Default::default()
            },
        ),
    ]
}

/// The quirks for a device: the first matching entry of `user`, then of the built-ins.
pub fn lookup(user: &[QuirkEntry], vendor: &str, product: &str, revision: &str) -> Quirks {
    user.iter()
        .chain(builtin().iter())
        .find(|e| e.matches(vendor, product, revision))
        .map(|e| e.quirks)
        .unwrap_or_default()
}
