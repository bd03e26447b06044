//! Where the backplane connects: one Redis (`redis://`, `rediss://` with the `redis-tls`
//! feature), or the master a set of Sentinels names (`redis+sentinel://`, with the
//! `redis-sentinel` feature), found again at every reconnection so that a failover is followed.

use super::options::BackplaneError;

/// A Redis to connect to, or the way to find it.
pub(super) enum Endpoint {
    Direct(redis::Client),
    #[cfg(feature = "redis-sentinel")]
    Sentinel(tokio::sync::Mutex<redis::sentinel::SentinelClient>),
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Direct(client) => f.debug_tuple("Direct").field(client).finish(),
            #[cfg(feature = "redis-sentinel")]
            Self::Sentinel(_) => f.write_str("Sentinel"),
        }
    }
}

impl Endpoint {
    /// Parses `url`; `root_pem` is a CA certificate (PEM) to trust for `rediss://`, besides the
    /// usual roots.
    pub(super) fn parse(url: &str, root_pem: Option<&[u8]>) -> Result<Self, BackplaneError> {
        let invalid = |e: &dyn std::fmt::Display| BackplaneError::InvalidUrl(e.to_string());
        if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            return sentinel(rest, root_pem);
        }
        if url.starts_with("rediss://") && !cfg!(feature = "redis-tls") {
            return Err(BackplaneError::InvalidUrl(
                "`rediss://` (TLS) needs cache-core's `redis-tls` feature".to_owned(),
            ));
        }
        #[cfg(feature = "redis-tls")]
        if let Some(pem) = root_pem {
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            };
            return redis::Client::build_with_tls(url, certificates)
                .map(Self::Direct)
                .map_err(|e| invalid(&e));
        }
        let _ = root_pem;
        redis::Client::open(url)
            .map(Self::Direct)
            .map_err(|e| invalid(&e))
    }

    /// A client for the Redis to use now (for Sentinel: the master it names now).
    pub(super) async fn client(&self) -> Result<redis::Client, String> {
        match self {
            Self::Direct(client) => Ok(client.clone()),
            #[cfg(feature = "redis-sentinel")]
            Self::Sentinel(sentinel) => sentinel
                .lock()
                .await
                .async_get_client()
                .await
                .map_err(|e| format!("no master from the sentinels: {e}")),
        }
    }
}

/// `[user[:password]@]host:port[,host:port...]/service[/db]`, after `redis+sentinel://`.
#[cfg(not(feature = "redis-sentinel"))]
fn sentinel(_: &str, _: Option<&[u8]>) -> Result<Endpoint, BackplaneError> {
    Err(BackplaneError::InvalidUrl(
        "`redis+sentinel://` needs cache-core's `redis-sentinel` feature".to_owned(),
    ))
}

#[cfg(feature = "redis-sentinel")]
fn sentinel(rest: &str, root_pem: Option<&[u8]>) -> Result<Endpoint, BackplaneError> {
    use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
    let _ = root_pem;
    let bad = |why: &str| {
        BackplaneError::InvalidUrl(format!(
            "{why}: expected redis+sentinel://[user[:password]@]host:port[,host:port...]/service[/db]"
        ))
    };
    let (auth, rest) = match rest.rsplit_once('@') {
        Some((auth, rest)) => (Some(auth), rest),
        None => (None, rest),
    };
    let (hosts, path) = rest.split_once('/').ok_or_else(|| bad("no service name"))?;
    let mut path = path.split('/');
    let service = path
        .next()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("no service name"))?;
    let db: i64 = match path.next() {
        None | Some("") => 0,
        Some(db) => db
            .parse()
            .map_err(|_| bad("the database is not a number"))?,
    };
    if path.next().is_some() {
        return Err(bad("too many path segments"));
    }
    let sentinels: Vec<String> = hosts
        .split(',')
        .map(|host| {
            if host.is_empty() {
                Err(bad("an empty sentinel address"))
            } else {
                Ok(format!("redis://{host}"))
            }
        })
        .collect::<Result<_, _>>()?;
    let mut master = redis::RedisConnectionInfo::default().set_db(db);
    if let Some(auth) = auth {
        let (user, password) = match auth.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => ("", Some(auth)),
        };
        if !user.is_empty() {
            master = master.set_username(user);
        }
        if let Some(password) = password {
            master = master.set_password(password);
        }
    }
    let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(master);
    // redis-rs takes a `String` without its TLS feature and any `AsRef<str>` with it.
    #[allow(clippy::unnecessary_to_owned)]
    let client = SentinelClient::build(
        sentinels,
        service.to_owned(),
        Some(node),
        SentinelServerType::Master,
    )
    .map_err(|e| BackplaneError::InvalidUrl(e.to_string()))?;
    Ok(Endpoint::Sentinel(tokio::sync::Mutex::new(client)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_say_which_feature_they_need() {
        assert!(matches!(
            Endpoint::parse("redis://127.0.0.1:6379/", None),
            Ok(Endpoint::Direct(_))
        ));
        assert!(Endpoint::parse("http://x", None).is_err());
        let tls = Endpoint::parse("rediss://127.0.0.1:6380/", None);
        if cfg!(feature = "redis-tls") {
            assert!(tls.is_ok());
        } else {
            assert!(matches!(tls, Err(BackplaneError::InvalidUrl(e)) if e.contains("redis-tls")));
        }
        let sentinel = Endpoint::parse(
            "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379/mymaster/2",
            None,
        );
        if cfg!(feature = "redis-sentinel") {
            assert!(sentinel.is_ok());
            for bad in [
                "redis+sentinel://h:1",
                "redis+sentinel://h:1/",
                "redis+sentinel://h:1/s/x",
                "redis+sentinel://,h:1/s",
            ] {
                assert!(Endpoint::parse(bad, None).is_err(), "{bad}");
            }
        } else {
            assert!(
                matches!(sentinel, Err(BackplaneError::InvalidUrl(e)) if e.contains("redis-sentinel"))
            );
        }
    }
}
