//! A link as a QR code, drawn as inline SVG (no image files, nothing the page loads).

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The SVG of a QR code holding `text`, or `None` if the text does not fit in one.
pub(crate) fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(280, 280)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // The renderer writes an XML declaration first; inline SVG in HTML starts at <svg.
    Some(image.find("<svg").map_or(image.clone(), |at| image[at..].to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_link_becomes_an_svg_qr_code() {
        let svg = super::svg("https://portal.example.net/p/abc").unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(svg.contains("#000000"));
    }
}
