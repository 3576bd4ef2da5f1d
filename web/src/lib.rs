//! The dashboard, compiled into the binary that serves it: no files to deploy and no separate server.
//!
//! Every page is the same small HTML shell; `app.js` reads the path and renders the page from the coordinator's
//! JSON API, then follows its server-sent events. [`router`] serves the shell at each page's path and the
//! assets under `/assets/`, each with an `ETag` fixed at compile time, so a browser revalidates cheaply and
//! never runs a stale script after an upgrade.

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// A file served from memory.
#[derive(Debug)]
pub struct Asset {
    /// Its name under `/assets/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static str,
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset { name: $name, content_type: $content_type, body: include_str!(concat!("../static/", $name)) }
    };
}

/// The page shell.
pub const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// The scripts and styles.
pub const ASSETS: &[Asset] = &[
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("session.js", "text/javascript; charset=utf-8"),
    asset!("live.js", "text/javascript; charset=utf-8"),
    asset!("page-overview.js", "text/javascript; charset=utf-8"),
    asset!("page-task.js", "text/javascript; charset=utf-8"),
    asset!("page-worker.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("chart.js", "text/javascript; charset=utf-8"),
    asset!("format.js", "text/javascript; charset=utf-8"),
    asset!("wallet.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The pages, each served the shell.
pub const PAGES: &[&str] = &["/", "/tasks/{task}", "/workers/{worker}"];

/// Scripts and styles come from this origin only, and the page talks to this origin only: an injected wallet
/// talks to its own extension, not through the page's network.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The dashboard's routes, for any router state (its handlers need none).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/assets/{name}", get(asset));
    for page in PAGES {
        router = router.route(page, get(shell));
    }
    router
}

async fn shell(headers: HeaderMap) -> Response {
    respond(&INDEX, &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(found) => respond(found, &headers),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

fn respond(asset: &Asset, request: &HeaderMap) -> Response {
    let tag = etag(asset.body);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    // Revalidate every time: a 304 costs one round trip on loopback or a LAN, and no one runs stale code.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response
}

/// A strong ETag from the content: FNV-1a, 64 bits, as 16 hex digits in quotes. Hashing a few tens of
/// kilobytes per request costs microseconds, less than keeping a table of them.
fn etag(body: &str) -> String {
    let hash = body
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut request = axum::http::Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        router::<()>().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn every_page_is_the_shell() {
        for path in ["/", "/tasks/7", "/workers/0x00000000000000000000000000000000000000aa"] {
            let response = get(path, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
            assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY));
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, INDEX.body.as_bytes(), "{path}");
        }
    }

    #[tokio::test]
    async fn assets_revalidate_by_etag() {
        for asset in ASSETS {
            let response = get(&format!("/assets/{}", asset.name), None).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            assert_eq!(response.headers()[header::CONTENT_TYPE], asset.content_type);
            let tag = response.headers()[header::ETAG].to_str().unwrap().to_owned();
            assert_eq!(tag, etag(asset.body));
            let again = get(&format!("/assets/{}", asset.name), Some(&tag)).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{}", asset.name);
            assert!(again.into_body().collect().await.unwrap().to_bytes().is_empty());
        }
        assert_eq!(get("/assets/app.js", Some("\"0000000000000000\"")).await.status(), StatusCode::OK);
        assert_eq!(get("/assets/secrets.env", None).await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_shell_references_only_assets_that_exist() {
        for reference in INDEX.body.split("/assets/").skip(1) {
            let name: String = reference.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
            assert!(ASSETS.iter().any(|a| a.name == name), "index.html names a missing asset {name:?}");
        }
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for import in asset.body.split("from \"./").skip(1) {
                let name = import.split('"').next().unwrap();
                assert!(ASSETS.iter().any(|a| a.name == name), "{} imports a missing module {name:?}", asset.name);
            }
        }
    }
}
