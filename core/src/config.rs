//! Typed settings from environment variables, optionally layered over a TOML file.
//!
//! Precedence: environment, then the file named by `PORTAL_CONFIG` (keys are the same names as
//! the variables), then defaults. A bad value is reported as one line naming the setting.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use url::Url;

/// A setting that could not be used; `Display` is the one line shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {setting}: {problem}")]
pub struct ConfigError {
    /// The variable's name, e.g. `PORTAL_PUBLIC_URL`.
    pub setting: &'static str,
    /// What is wrong with it, without echoing secrets.
    pub problem: String,
}

fn bad(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

/// A secret setting: never printed, not even by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's text, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How privacy officers hear of new requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OfficerMail {
    /// A mail per new request, as it comes in.
    #[default]
    Each,
    /// One digest a day of the requests that came in since the last.
    Daily,
}

/// Everything the portal is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://…` or `postgres://…`; default an SQLite file in the data dir.
    pub database_url: String,
    /// `PORTAL_PUBLIC_URL`: the origin customers use; links and the Origin check derive from it.
    pub public_url: Url,
    /// `PORTAL_SMTP_URL`: `smtp://host:port` or `smtps://…`. The server does not start
    /// without it unless the dev mailbox is switched on.
    pub smtp_url: Option<String>,
    /// `PORTAL_DEV_MAILBOX=1`: mail goes to files shown at `/dev/mailbox` instead of SMTP.
    /// Development only: refused with an https or non-loopback public URL, and never implied
    /// by a missing setting (that once published every sign-in link of a production portal).
    pub dev_mailbox: bool,
    /// `PORTAL_MAIL_FROM`: the sender, `Name <address>` or a bare address.
    pub mail_from: String,
    /// `PORTAL_MASTER_KEY`: 32 bytes (base64 or hex); unset means the key file in the data dir.
    pub master_key: Option<Secret>,
    /// `PORTAL_DATA_DIR`: SQLite file, dev mailbox, photos and exports live here.
    pub data_dir: PathBuf,
    /// `LEPTOS_SITE_ADDR`: where the server listens.
    pub site_addr: SocketAddr,
    /// `LEPTOS_SITE_ROOT`: the folder with the built site (`pkg/`, CSS).
    pub site_root: String,
    /// `PORTAL_SALON_NAME`: shown in the page header and in mail.
    pub salon_name: String,
    /// `PORTAL_LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// `PORTAL_BACKUP_DIR`: where the daily backups go; unset means no scheduled backups.
    pub backup_dir: Option<PathBuf>,
    /// `PORTAL_BACKUP_KEEP`: how many daily data backups to keep (key-store backups: at most 2).
    pub backup_keep: usize,
    /// `PORTAL_REQUEST_DAYS`: working days a request has before it is due (default 15).
    pub request_days: u32,
    /// `PORTAL_HOLIDAYS`: non-working dates (`YYYY-MM-DD`, comma-separated) for due dates.
    pub holidays: Vec<chrono::NaiveDate>,
    /// `PORTAL_TRUSTED_PROXIES`: how many reverse proxies in front of the portal append to
    /// `X-Forwarded-For`; 0 (default) means the peer address is the client.
    pub trusted_proxies: usize,
    /// `PORTAL_API_CALLS_PER_MINUTE`: calls one consent-API key may make per minute (default 600).
    pub api_calls_per_minute: i64,
    /// `PORTAL_SIGNIN_PER_IP_PER_HOUR`: customer sign-in requests one client address may make per
    /// hour (default 20). A salon whose customers share its shop Wi-Fi may need more.
    pub signin_per_ip_per_hour: i64,
    /// `PORTAL_SENT_MAIL_DAYS`: days a delivered mail to a customer is kept (they see it under
    /// "My data"; default 30). Mail not addressed to a customer goes once delivered.
    pub sent_mail_days: u32,
    /// `PORTAL_FRESH_SIGNIN_MINUTES`: how recent a customer's sign-in must be to download a
    /// copy, ask for deletion or move sign-in to a new email (default and most 10, security.md;
    /// a salon may ask for less, never more).
    pub fresh_signin_minutes: i64,
    /// `PORTAL_OFFICER_MAIL`: how privacy officers hear of new requests: `each` (a mail per new
    /// request, the default) or `daily` (one digest a day of the requests that came in).
    pub officer_mail: OfficerMail,
    /// Time between two scheduled backups (a day).
    pub backup_interval: Duration,
    /// First retry delay of the mail outbox; doubles per failure up to `mail_retry_max`.
    pub mail_retry_base: Duration,
    /// Longest delay between two delivery attempts of one mail.
    pub mail_retry_max: Duration,
    /// How often the outbox worker looks for due mail when nothing wakes it.
    pub mail_poll: Duration,
    /// `PORTAL_DRAIN_SECONDS`: after SIGTERM, how long the portal keeps serving while `/healthz`
    /// answers 503 "draining", so a proxy's health check moves traffic away before the listener
    /// closes (default 5, at most 60; 0 closes at once).
    pub drain: Duration,
    /// `PORTAL_PAGE_TIMEOUT_SECONDS`: a page or form answer that takes longer answers 503
    /// instead of hanging (default 15, from 1 to 300).
    pub page_timeout: Duration,
    /// `PORTAL_METRICS_ADDR`: where operators' metrics are served (`GET /metrics`, Prometheus
    /// text), on a listener of their own that the proxy never forwards to. Unset (the default):
    /// no metrics at all. Counts and timings only, never a personal value.
    pub metrics_addr: Option<SocketAddr>,
}

impl Settings {
    /// Reads the process environment (and the optional TOML file).
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::from_sources(&env)
    }

    /// Builds settings from a map of variables; `PORTAL_CONFIG` in it names an optional TOML file.
    pub fn from_sources(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        if let Some(path) = env.get("PORTAL_CONFIG").filter(|p| !p.is_empty()) {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad("PORTAL_CONFIG", format!("cannot read {path}: {e}")))?;
            let table: toml::Table = toml::from_str(&text)
                .map_err(|e| bad("PORTAL_CONFIG", format!("not valid TOML: {}", e.message())))?;
            for (k, v) in table {
                let v = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => {
                        return Err(bad(
                            "PORTAL_CONFIG",
                            format!("{k} must be a string, number or boolean"),
                        ));
                    }
                };
                vars.insert(k, v);
            }
        }
        for (k, v) in env {
            vars.insert(k.clone(), v.clone());
        }
        let get = |k: &str| {
            vars.get(k)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };

        let data_dir = PathBuf::from(get("PORTAL_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = match get("DATABASE_URL") {
            Some(u)
                if u.starts_with("sqlite:")
                    || u.starts_with("postgres://")
                    || u.starts_with("postgresql://") =>
            {
                u
            }
            Some(_) => {
                return Err(bad(
                    "DATABASE_URL",
                    "must start with sqlite: or postgres://",
                ));
            }
            None => format!("sqlite://{}?mode=rwc", data_dir.join("portal.db").display()),
        };
        let public_url = {
            let raw = get("PORTAL_PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into());
            let url = Url::parse(&raw)
                .map_err(|e| bad("PORTAL_PUBLIC_URL", format!("not a URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(bad(
                    "PORTAL_PUBLIC_URL",
                    "must be an http:// or https:// URL with a host",
                ));
            }
            if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                return Err(bad(
                    "PORTAL_PUBLIC_URL",
                    "must be an origin only, without path or query",
                ));
            }
            url
        };
        let smtp_url = match get("PORTAL_SMTP_URL") {
            None => None,
            Some(u) => {
                let parsed = Url::parse(&u).map_err(|_| bad("PORTAL_SMTP_URL", "not a URL"))?;
                if !matches!(parsed.scheme(), "smtp" | "smtps") || parsed.host().is_none() {
                    return Err(bad(
                        "PORTAL_SMTP_URL",
                        "must be smtp://host:port or smtps://host:port",
                    ));
                }
                Some(u)
            }
        };
        let dev_mailbox = match get("PORTAL_DEV_MAILBOX").as_deref() {
            None | Some("0" | "false" | "no" | "off") => false,
            Some("1" | "true" | "yes" | "on") => true,
            Some(_) => return Err(bad("PORTAL_DEV_MAILBOX", "must be 1 or 0")),
        };
        if dev_mailbox {
            if public_url.scheme() != "http" || !is_loopback(&public_url) {
                return Err(bad(
                    "PORTAL_DEV_MAILBOX",
                    "is for development on this machine only: PORTAL_PUBLIC_URL must be http:// on 127.0.0.1, [::1] or localhost",
                ));
            }
            if smtp_url.is_some() {
                return Err(bad(
                    "PORTAL_DEV_MAILBOX",
                    "cannot be used together with PORTAL_SMTP_URL: choose one",
                ));
            }
        }
        let mail_from = get("PORTAL_MAIL_FROM")
            .unwrap_or_else(|| "Salon Privacy Desk <privacy@salon.example>".into());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(bad(
                "PORTAL_MAIL_FROM",
                "must be an address or `Name <address>`",
            ));
        }
        let site_addr: SocketAddr = get("LEPTOS_SITE_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|_| bad("LEPTOS_SITE_ADDR", "must be host:port, e.g. 127.0.0.1:3000"))?;
        if dev_mailbox && !site_addr.ip().is_loopback() {
            return Err(bad(
                "PORTAL_DEV_MAILBOX",
                "is for development on this machine only: LEPTOS_SITE_ADDR must listen on a loopback address",
            ));
        }
        let metrics_addr = match get("PORTAL_METRICS_ADDR") {
            None => None,
            Some(v) => Some(v.trim().parse::<SocketAddr>().map_err(|_| {
                bad(
                    "PORTAL_METRICS_ADDR",
                    "must be host:port, e.g. 127.0.0.1:9100",
                )
            })?),
        };
        let log_json = match get("PORTAL_LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(_) => return Err(bad("PORTAL_LOG_FORMAT", "must be text or json")),
        };
        let backup_keep = match get("PORTAL_BACKUP_KEEP") {
            None => 7,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=3650).contains(n))
                .ok_or_else(|| {
                    bad(
                        "PORTAL_BACKUP_KEEP",
                        "must be a whole number from 1 to 3650",
                    )
                })?,
        };
        let trusted_proxies = match get("PORTAL_TRUSTED_PROXIES") {
            None => 0,
            Some(v) => v.parse::<usize>().ok().filter(|n| *n <= 5).ok_or_else(|| {
                bad(
                    "PORTAL_TRUSTED_PROXIES",
                    "must be a whole number from 0 to 5",
                )
            })?,
        };
        let api_calls_per_minute = match get("PORTAL_API_CALLS_PER_MINUTE") {
            None => 600,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    bad(
                        "PORTAL_API_CALLS_PER_MINUTE",
                        "must be a whole number from 1 to 1000000",
                    )
                })?,
        };
        let signin_per_ip_per_hour = match get("PORTAL_SIGNIN_PER_IP_PER_HOUR") {
            None => crate::signin::throttle::PER_IP.max,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| {
                    bad(
                        "PORTAL_SIGNIN_PER_IP_PER_HOUR",
                        "must be a whole number from 1 to 100000",
                    )
                })?,
        };
        let fresh_signin_minutes = match get("PORTAL_FRESH_SIGNIN_MINUTES") {
            None => 10,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=10).contains(n))
                .ok_or_else(|| {
                    bad(
                        "PORTAL_FRESH_SIGNIN_MINUTES",
                        "must be a whole number from 1 to 10",
                    )
                })?,
        };
        let officer_mail = match get("PORTAL_OFFICER_MAIL") {
            None => OfficerMail::Each,
            Some(v) => match v.trim() {
                "each" => OfficerMail::Each,
                "daily" => OfficerMail::Daily,
                _ => return Err(bad("PORTAL_OFFICER_MAIL", "must be each or daily")),
            },
        };
        let sent_mail_days = match get("PORTAL_SENT_MAIL_DAYS") {
            None => 30,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=3650).contains(n))
                .ok_or_else(|| {
                    bad(
                        "PORTAL_SENT_MAIL_DAYS",
                        "must be a whole number from 1 to 3650",
                    )
                })?,
        };
        let seconds = |name: &'static str, default: u64, range: std::ops::RangeInclusive<u64>| {
            match get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .map(Duration::from_secs)
                    .ok_or_else(|| {
                        bad(
                            name,
                            match name {
                                "PORTAL_DRAIN_SECONDS" => "must be a whole number from 0 to 60",
                                _ => "must be a whole number from 1 to 300",
                            },
                        )
                    }),
            }
        };
        let drain = seconds("PORTAL_DRAIN_SECONDS", 5, 0..=60)?;
        let page_timeout = seconds("PORTAL_PAGE_TIMEOUT_SECONDS", 15, 1..=300)?;
        let request_days = match get("PORTAL_REQUEST_DAYS") {
            None => 15,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=30).contains(n))
                .ok_or_else(|| bad("PORTAL_REQUEST_DAYS", "must be a whole number from 1 to 30"))?,
        };
        let holidays = match get("PORTAL_HOLIDAYS") {
            None => Vec::new(),
            Some(v) => v
                .split([',', ' ', '\n'])
                .filter(|d| !d.trim().is_empty())
                .map(|d| chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d"))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    bad(
                        "PORTAL_HOLIDAYS",
                        "must be dates like 2026-10-01, comma-separated",
                    )
                })?,
        };
        Ok(Self {
            metrics_addr,
            drain,
            page_timeout,
            sent_mail_days,
            officer_mail,
            fresh_signin_minutes,
            signin_per_ip_per_hour,
            api_calls_per_minute,
            request_days,
            holidays,
            trusted_proxies,
            backup_dir: get("PORTAL_BACKUP_DIR").map(PathBuf::from),
            backup_keep,
            backup_interval: Duration::from_secs(24 * 3600),
            database_url,
            public_url,
            smtp_url,
            dev_mailbox,
            mail_from,
            master_key: get("PORTAL_MASTER_KEY").map(Secret),
            data_dir,
            site_addr,
            site_root: get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            salon_name: get("PORTAL_SALON_NAME").unwrap_or_else(|| "Demo Salon".into()),
            log_json,
            mail_retry_base: Duration::from_secs(5),
            mail_retry_max: Duration::from_secs(3600),
            mail_poll: Duration::from_secs(5),
        })
    }

    /// The public origin as it appears in an `Origin` header, e.g. `https://salon.example`.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// True when mail goes to files in the data directory instead of an SMTP server (only when
    /// switched on by name with `PORTAL_DEV_MAILBOX`).
    pub fn dev_mailbox(&self) -> bool {
        self.dev_mailbox
    }

    /// The client's address as throttles count it: the peer, or with `trusted_proxies` = n the
    /// n-th address from the right of `X-Forwarded-For` (the one our own first proxy saw).
    /// Entries further left are the client's to forge, so they are never used; a short or
    /// garbled header falls back to the peer, which over-throttles rather than under-throttles.
    /// An IPv6 client counts by its /64 (one subscriber holds a whole /64 and can pick any
    /// address in it); an IPv4 address mapped into IPv6 counts as the IPv4 address.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let ip = if self.trusted_proxies == 0 {
            peer
        } else {
            let hops: Vec<&str> = forwarded_for
                .iter()
                .flat_map(|h| h.split(','))
                .map(str::trim)
                .collect();
            hops.len()
                .checked_sub(self.trusted_proxies)
                .and_then(|i| hops[i].parse().ok())
                .unwrap_or(peer)
        };
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & (u128::MAX << 64);
                    IpAddr::V6(std::net::Ipv6Addr::from(prefix))
                }
            },
            v4 => v4,
        }
    }

    /// How recent a sign-in must be for a sensitive action (`PORTAL_FRESH_SIGNIN_MINUTES`).
    pub fn fresh_signin(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.fresh_signin_minutes)
    }

    /// Cookies may drop `Secure` only for plain http on the local machine.
    pub fn cookies_secure(&self) -> bool {
        let local = matches!(
            self.public_url.host_str(),
            Some("127.0.0.1" | "localhost" | "[::1]")
        );
        !(self.public_url.scheme() == "http" && local)
    }
}

/// True when the URL's host is this machine (127.0.0.0/8, ::1 or `localhost`), which no one
/// else can reach.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_sources(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_give_sqlite_in_the_data_dir_and_the_local_public_url() {
        let s = with(&[]).unwrap();
        assert_eq!(s.database_url, "sqlite://data/portal.db?mode=rwc");
        assert_eq!(s.public_origin(), "http://127.0.0.1:3000");
        assert!(
            !s.dev_mailbox(),
            "a missing SMTP setting never turns the dev mailbox on"
        );
        assert!(!s.cookies_secure());
        assert_eq!(
            s.metrics_addr, None,
            "metrics are off unless an operator asks"
        );
    }

    #[test]
    fn a_fresh_sign_in_is_ten_minutes_unless_the_salon_asks_for_less_and_never_more() {
        assert_eq!(
            with(&[]).unwrap().fresh_signin(),
            chrono::Duration::minutes(10)
        );
        let short = with(&[("PORTAL_FRESH_SIGNIN_MINUTES", "1")]).unwrap();
        assert_eq!(short.fresh_signin(), chrono::Duration::minutes(1));
        for bad in ["0", "11", "60", "-1", "ten"] {
            let e = with(&[("PORTAL_FRESH_SIGNIN_MINUTES", bad)]).unwrap_err();
            assert_eq!(e.setting, "PORTAL_FRESH_SIGNIN_MINUTES", "{bad:?}");
        }
        // The officers hear of each request unless they chose a digest.
        assert_eq!(with(&[]).unwrap().officer_mail, OfficerMail::Each);
        assert_eq!(
            with(&[("PORTAL_OFFICER_MAIL", "daily")])
                .unwrap()
                .officer_mail,
            OfficerMail::Daily
        );
        assert!(with(&[("PORTAL_OFFICER_MAIL", "weekly")]).is_err());
    }

    #[test]
    fn the_client_address_comes_from_forwarded_for_only_as_far_as_proxies_are_trusted() {
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let direct = with(&[]).unwrap();
        assert_eq!(
            direct.client_ip(peer, &["198.51.100.7"]),
            peer,
            "forged header ignored"
        );
        let one = with(&[("PORTAL_TRUSTED_PROXIES", "1")]).unwrap();
        // The client wrote the first entry itself; our proxy appended the real one.
        assert_eq!(
            one.client_ip(peer, &["1.2.3.4, 198.51.100.7"]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            one.client_ip(peer, &["1.2.3.4", "198.51.100.7"]),
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "repeated headers count as one list"
        );
        assert_eq!(one.client_ip(peer, &[]), peer);
        assert_eq!(one.client_ip(peer, &["not-an-ip"]), peer);
        let two = with(&[("PORTAL_TRUSTED_PROXIES", "2")]).unwrap();
        assert_eq!(
            two.client_ip(peer, &["1.2.3.4, 2001:db8::7, 10.0.0.9"]),
            "2001:db8::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(two.client_ip(peer, &["10.0.0.9"]), peer);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_prefix_and_a_mapped_ipv4_as_ipv4() {
        let direct = with(&[]).unwrap();
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:fffe".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(direct.client_ip(a, &[]), direct.client_ip(b, &[]));
        assert_ne!(direct.client_ip(a, &[]), direct.client_ip(other, &[]));
        assert_eq!(
            direct.client_ip(a, &[]),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(
            direct.client_ip(mapped, &[]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn each_bad_setting_is_named_in_the_error() {
        for (k, v) in [
            ("DATABASE_URL", "mysql://x"),
            ("PORTAL_PUBLIC_URL", "ftp://x"),
            ("PORTAL_PUBLIC_URL", "https://x.example/path"),
            ("PORTAL_SMTP_URL", "http://x"),
            ("PORTAL_MAIL_FROM", "not an address"),
            ("LEPTOS_SITE_ADDR", "nowhere"),
            ("PORTAL_LOG_FORMAT", "xml"),
            ("PORTAL_BACKUP_KEEP", "0"),
            ("PORTAL_TRUSTED_PROXIES", "many"),
            ("PORTAL_REQUEST_DAYS", "0"),
            ("PORTAL_API_CALLS_PER_MINUTE", "0"),
            ("PORTAL_SIGNIN_PER_IP_PER_HOUR", "lots"),
            ("PORTAL_HOLIDAYS", "2026-13-01"),
            ("PORTAL_DEV_MAILBOX", "maybe"),
            ("PORTAL_SENT_MAIL_DAYS", "0"),
            ("PORTAL_DRAIN_SECONDS", "61"),
            ("PORTAL_PAGE_TIMEOUT_SECONDS", "0"),
            ("PORTAL_METRICS_ADDR", "everywhere"),
        ] {
            let err = with(&[(k, v)]).unwrap_err();
            assert_eq!(err.setting, k);
            assert!(
                err.to_string()
                    .starts_with(&format!("configuration error: {k}: "))
            );
        }
    }

    #[test]
    fn the_environment_overrides_the_toml_file() {
        let dir = std::env::temp_dir().join(format!("portal-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("portal.toml");
        std::fs::write(
            &file,
            "PORTAL_SALON_NAME = \"From File\"\nPORTAL_DATA_DIR = \"/srv/x\"\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let s = with(&[("PORTAL_CONFIG", f), ("PORTAL_SALON_NAME", "From Env")]).unwrap();
        assert_eq!(s.salon_name, "From Env");
        assert_eq!(s.data_dir, PathBuf::from("/srv/x"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_dev_mailbox_is_on_only_by_name_and_only_for_plain_http_on_this_machine() {
        for url in [
            "http://127.0.0.1:3000",
            "http://localhost:8080",
            "http://[::1]:3000",
        ] {
            let s = with(&[("PORTAL_DEV_MAILBOX", "1"), ("PORTAL_PUBLIC_URL", url)]).unwrap();
            assert!(s.dev_mailbox(), "{url}");
        }
        for url in [
            "https://127.0.0.1:3000",
            "https://salon.example",
            "http://salon.example",
            "http://192.168.1.20:3000",
            "http://localhost.salon.example",
        ] {
            let err = with(&[("PORTAL_DEV_MAILBOX", "1"), ("PORTAL_PUBLIC_URL", url)]).unwrap_err();
            assert_eq!(err.setting, "PORTAL_DEV_MAILBOX", "{url}");
        }
        let err = with(&[
            ("PORTAL_DEV_MAILBOX", "1"),
            ("PORTAL_SMTP_URL", "smtp://127.0.0.1:2525"),
        ])
        .unwrap_err();
        assert_eq!(err.setting, "PORTAL_DEV_MAILBOX");
        // Listening beyond this machine publishes the mailbox whatever the public URL says.
        let err = with(&[
            ("PORTAL_DEV_MAILBOX", "1"),
            ("LEPTOS_SITE_ADDR", "0.0.0.0:3000"),
        ])
        .unwrap_err();
        assert_eq!(err.setting, "PORTAL_DEV_MAILBOX");
        let s = with(&[("PORTAL_SMTP_URL", "smtp://127.0.0.1:2525")]).unwrap();
        assert!(!s.dev_mailbox());
        assert!(!with(&[("PORTAL_DEV_MAILBOX", "0")]).unwrap().dev_mailbox());
    }

    #[test]
    fn https_public_urls_need_secure_cookies() {
        assert!(
            with(&[("PORTAL_PUBLIC_URL", "https://salon.example")])
                .unwrap()
                .cookies_secure()
        );
        assert!(
            with(&[("PORTAL_PUBLIC_URL", "http://salon.example")])
                .unwrap()
                .cookies_secure()
        );
    }
}
