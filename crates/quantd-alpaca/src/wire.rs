//! Alpaca's JSON, as documented for the Trading API v2: the order request body, and the order,
//! position, account, error and trade-update objects (only the fields this crate reads).
//! Alpaca sends numbers as strings (`"qty": "10"`); [`num`] reads either.

use serde::{Deserialize, Deserializer, Serialize};

/// Reads an optional number sent as a JSON string or number (`null` and `""` are `None`).
fn num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        S(String),
        F(f64),
    }
    match Option::<Num>::deserialize(d)? {
        None => Ok(None),
        Some(Num::F(f)) => Ok(Some(f)),
        Some(Num::S(s)) if s.trim().is_empty() => Ok(None),
        Some(Num::S(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a number"))),
    }
}

/// An order as Alpaca reports it (`GET /v2/orders`, a trade update's `order`).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ApiOrder {
    pub id: String,
    #[serde(default)]
    pub client_order_id: String,
    #[serde(default)]
    pub symbol: String,
    #[serde(default, deserialize_with = "num")]
    pub qty: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub filled_qty: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub filled_avg_price: Option<f64>,
    /// `simple`, `bracket`, `oco`, `oto` (empty for simple orders on older answers).
    #[serde(default)]
    pub order_class: String,
    /// `market`, `limit`, `stop`, `stop_limit`, `trailing_stop`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `buy` or `sell`.
    #[serde(default)]
    pub side: String,
    #[serde(default, deserialize_with = "num")]
    pub limit_price: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub stop_price: Option<f64>,
    #[serde(default)]
    pub status: String,
    /// The take-profit and stop-loss legs of a bracket, OTO or OCO order.
    #[serde(default)]
    pub legs: Option<Vec<ApiOrder>>,
}

impl ApiOrder {
    /// +1 for a buy, -1 for a sell.
    pub fn sign(&self) -> f64 {
        if self.side == "sell" { -1.0 } else { 1.0 }
    }

    /// Whether Alpaca is done with the order: nothing more will fill.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "filled" | "canceled" | "expired" | "rejected" | "replaced"
        )
    }

    /// The order and its legs, depth first.
    pub fn flatten(self, out: &mut Vec<ApiOrder>) {
        let legs = self.legs.clone().unwrap_or_default();
        out.push(ApiOrder { legs: None, ..self });
        for leg in legs {
            leg.flatten(out);
        }
    }
}

/// A position (`GET /v2/positions`).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ApiPosition {
    pub symbol: String,
    #[serde(default, deserialize_with = "num")]
    pub qty: Option<f64>,
    /// `long` or `short`.
    #[serde(default)]
    pub side: String,
    #[serde(default, deserialize_with = "num")]
    pub avg_entry_price: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub unrealized_pl: Option<f64>,
}

impl ApiPosition {
    /// Signed units: negative when short, whichever sign Alpaca gave `qty`.
    pub fn size(&self) -> f64 {
        let q = self.qty.unwrap_or(0.0).abs();
        if self.side == "short" { -q } else { q }
    }
}

/// The account (`GET /v2/account`).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ApiAccount {
    #[serde(default, deserialize_with = "num")]
    pub cash: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub equity: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    pub buying_power: Option<f64>,
    /// `1` (cash account), `2` or `4` (margin).
    #[serde(default, deserialize_with = "num")]
    pub multiplier: Option<f64>,
}

/// Alpaca's error body.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub code: Option<u64>,
    #[serde(default)]
    pub message: String,
}

/// A take-profit leg.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct TakeProfit {
    pub limit_price: String,
}

/// A stop-loss leg.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct StopLoss {
    pub stop_price: String,
}

/// The body of `POST /v2/orders`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct OrderBody {
    pub symbol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notional: Option<String>,
    pub side: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time_in_force: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<String>,
    pub client_order_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<TakeProfit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<StopLoss>,
}

/// One message of the stream: `{"stream": ..., "data": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct StreamMessage {
    pub stream: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// The `data` of a `trade_updates` message.
#[derive(Debug, Deserialize)]
pub(crate) struct TradeUpdate {
    pub event: String,
    pub order: ApiOrder,
    /// This execution's price (fill and partial_fill events).
    #[serde(default, deserialize_with = "num")]
    pub price: Option<f64>,
    /// This execution's quantity.
    #[serde(default, deserialize_with = "num")]
    pub qty: Option<f64>,
    /// The position's signed size after this execution.
    #[serde(default, deserialize_with = "num")]
    pub position_qty: Option<f64>,
}

/// A price as Alpaca takes it: at most 2 decimals at or above $1, 4 below (sub-penny
/// increments are refused), rounded to the nearest increment.
pub(crate) fn price(p: f64) -> String {
    let scale = if p >= 1.0 { 100.0 } else { 10_000.0 };
    trim((p * scale).round() / scale)
}

/// A whole or fractional quantity.
pub(crate) fn quantity(q: f64) -> String {
    trim(q)
}

/// Dollars, rounded down to the cent (a notional never exceeds what was computed).
pub(crate) fn dollars(d: f64) -> String {
    trim((d * 100.0 + 1e-9).floor() / 100.0)
}

fn trim(v: f64) -> String {
    // Rust's shortest round-trip form ("101.5", "10"), never an exponent for these magnitudes.
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_strings_or_numbers() {
        let o: ApiOrder = serde_json::from_str(
            r#"{"id":"a","symbol":"AAPL","qty":"10","filled_qty":3,"filled_avg_price":null,
                "limit_price":"","side":"sell","status":"new","type":"limit"}"#,
        )
        .unwrap();
        assert_eq!(o.qty, Some(10.0));
        assert_eq!(o.filled_qty, Some(3.0));
        assert_eq!(o.filled_avg_price, None);
        assert_eq!(o.limit_price, None);
        assert_eq!(o.sign(), -1.0);
    }

    #[test]
    fn prices_in_alpaca_increments() {
        assert_eq!(price(101.456), "101.46");
        assert_eq!(price(0.123456), "0.1235");
        assert_eq!(price(100.0), "100");
        assert_eq!(dollars(1234.5678), "1234.56");
        assert_eq!(quantity(3.0), "3");
    }
}
