//! The departed list: addresses (and whole domains) of people who left, and how users match them.
//!
//! Accepted: a CSV with an `email` column (other columns ignored), or a plain list of addresses,
//! one per line. An entry starting with `@` names a whole domain (`@contractor.example`). Matching
//! ignores case and plus-addressing: `Jane.Doe+sync@Acme.example` belongs to `jane.doe@acme.example`.

use std::collections::BTreeSet;
use std::path::Path;

/// Why the departed list cannot be used. An empty list is an error, not "nothing to do".
#[derive(Debug, thiserror::Error)]
pub enum DepartedError {
    /// The file cannot be used: unreadable, not a regular file, over 16 MiB, not UTF-8.
    #[error("{0}")]
    File(#[from] crate::input::InputError),
    /// The CSV cannot be read.
    #[error("cannot read the departed list `{path}`: {reason}")]
    Unreadable {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A CSV without an `email` column.
    #[error("`{path}` has a header row but no `email` column (columns: {columns})")]
    NoEmailColumn {
        /// The path.
        path: String,
        /// The columns found.
        columns: String,
    },
    /// A value that is neither an address nor a domain.
    #[error(
        "`{path}` line {line}: {} is not an email address or `@domain`: {why}",
        crate::address::shown(value)
    )]
    BadEntry {
        /// The path.
        path: String,
        /// 1-based line.
        line: usize,
        /// The value.
        value: String,
        /// Why not.
        why: crate::address::NotAddress,
    },
    /// Nothing in it.
    #[error("the departed list `{path}` names nobody; refusing to treat that as \"nothing to do\"")]
    Empty {
        /// The path.
        path: String,
    },
}

/// The people (and domains) who left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Departed {
    addresses: BTreeSet<String>,
    domains: BTreeSet<String>,
}

/// `Jane.Doe+sync@Acme.example` → `jane.doe@acme.example`.
pub fn normalize(address: &str) -> String {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map_or(local, |(base, _)| base);
            format!("{local}@{domain}")
        }
        None => address,
    }
}

impl Departed {
    /// Reads a departed list.
    pub fn load(path: &Path) -> Result<Self, DepartedError> {
        let shown = path.display().to_string();
        let text = crate::input::read_text(path, crate::input::Kind::Departed)?;
        Self::parse(&text, &shown)
    }

    /// Parses a departed list; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, DepartedError> {
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        let is_csv = first.contains(',') || first.trim().eq_ignore_ascii_case("email");
        let mut departed = Departed::default();
        if is_csv {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let headers = reader
                .headers()
                .map_err(|e| DepartedError::Unreadable {
                    path: origin.into(),
                    reason: e.to_string(),
                })?
                .clone();
            let column = headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case("email"))
                .ok_or_else(|| DepartedError::NoEmailColumn {
                    path: origin.into(),
                    columns: headers.iter().collect::<Vec<_>>().join(", "),
                })?;
            for (index, record) in reader.records().enumerate() {
                let record = record.map_err(|e| DepartedError::Unreadable {
                    path: origin.into(),
                    reason: e.to_string(),
                })?;
                if let Some(value) = record.get(column).filter(|v| !v.is_empty()) {
                    departed.add(value, index + 2, origin)?;
                }
            }
        } else {
            for (index, line) in text.lines().enumerate() {
                let value = line.split('#').next().unwrap_or_default().trim();
                if !value.is_empty() {
                    departed.add(value, index + 1, origin)?;
                }
            }
        }
        if departed.addresses.is_empty() && departed.domains.is_empty() {
            return Err(DepartedError::Empty {
                path: origin.into(),
            });
        }
        Ok(departed)
    }

    fn add(&mut self, value: &str, line: usize, origin: &str) -> Result<(), DepartedError> {
        let bad = |why| DepartedError::BadEntry {
            path: origin.into(),
            line,
            value: value.into(),
            why,
        };
        if let Some(domain) = value.strip_prefix('@') {
            // A domain is checked as the domain of an address.
            crate::address::check(&format!("x@{domain}")).map_err(bad)?;
            self.domains.insert(domain.to_lowercase());
            return Ok(());
        }
        crate::address::check(value).map_err(bad)?;
        self.addresses.insert(normalize(value));
        Ok(())
    }

    /// The entry of the list that covers `address`: the address itself, or `@domain`.
    pub fn entry_for(&self, address: &str) -> Option<String> {
        let normal = normalize(address);
        if self.addresses.contains(&normal) {
            return Some(normal);
        }
        normal
            .rsplit_once('@')
            .filter(|(_, domain)| self.domains.contains(*domain))
            .map(|(_, domain)| format!("@{domain}"))
    }

    /// Every entry of the list: addresses, and domains as `@domain`.
    pub fn entries(&self) -> impl Iterator<Item = String> + '_ {
        self.addresses
            .iter()
            .cloned()
            .chain(self.domains.iter().map(|d| format!("@{d}")))
    }

    /// Whether `address` belongs to someone who left.
    pub fn covers(&self, address: &str) -> bool {
        let normal = normalize(address);
        self.addresses.contains(&normal)
            || normal
                .rsplit_once('@')
                .is_some_and(|(_, domain)| self.domains.contains(domain))
    }

    /// How many addresses and domains it names.
    pub fn len(&self) -> (usize, usize) {
        (self.addresses.len(), self.domains.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_plain_lists() {
        let csv = "name,Email,left_on\nJane Doe,Jane.Doe@Acme.example,2026-10-01\n\"Smith, Bob\",bob@acme.example,2026-11-01\nContractors,@contractor.example,\n";
        let departed = Departed::parse(csv, "d.csv").unwrap();
        assert_eq!(departed.len(), (2, 1));
        assert!(departed.covers("jane.doe+sync@acme.example"));
        assert!(departed.covers("BOB@ACME.EXAMPLE"));
        assert!(departed.covers("anyone@Contractor.example"));
        assert!(!departed.covers("carol@acme.example"));
        let plain = Departed::parse(
            "# people who left\njane.doe@acme.example\n\n@contractor.example\n",
            "d.txt",
        )
        .unwrap();
        assert_eq!(plain.len(), (1, 1));
    }

    #[test]
    fn bad_and_empty_lists_are_errors() {
        assert!(matches!(
            Departed::parse("name,left\nJane,x\n", "d.csv"),
            Err(DepartedError::NoEmailColumn { .. })
        ));
        assert!(matches!(
            Departed::parse("email\n", "d.csv"),
            Err(DepartedError::Empty { .. })
        ));
        assert!(matches!(
            Departed::parse("\n# nobody\n", "d.txt"),
            Err(DepartedError::Empty { .. })
        ));
        let bad = Departed::parse("jane.doe@acme.example\nnot an address\n", "d.txt").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "`d.txt` line 2: `not an address` is not an email address or `@domain`: it contains whitespace"
        );
        let bad = Departed::parse("api@@acme.example\n", "d.txt").unwrap_err();
        assert!(
            bad.to_string().ends_with("it has more than one `@`"),
            "{bad}"
        );
        assert!(Departed::parse("@acme\n", "d.txt").is_err());
    }
}
