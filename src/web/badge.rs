//! `/badge.svg`: a small "VOD sync | 98.5 %" badge for the station's
//! intranet, coloured by how far publishing has got.

/// The badge for a sync percentage (`None` when there are no VODs yet).
pub fn render(sync_percentage: Option<f64>) -> String {
    let (value, colour) = match sync_percentage {
        None => ("no VODs".to_string(), "#9f9f9f"),
        Some(p) => (
            format!("{p:.1} %"),
            match p {
                p if p >= 99.0 => "#2e9e44",
                p if p >= 90.0 => "#97b313",
                p if p >= 75.0 => "#d6a016",
                _ => "#d0452f",
            },
        ),
    };
    const LABEL: &str = "VOD sync";
    // Verdana 11px averages about 7 px a character.
    let label_width = 10 + LABEL.len() as u32 * 7;
    let value_width = 10 + value.len() as u32 * 7;
    let width = label_width + value_width;
    let label_x = label_width / 2;
    let value_x = label_width + value_width / 2;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{LABEL}: {value}"><title>{LABEL}: {value}</title><clipPath id="r"><rect width="{width}" height="20" rx="3"/></clipPath><g clip-path="url(#r)"><rect width="{label_width}" height="20" fill="#555"/><rect x="{label_width}" width="{value_width}" height="20" fill="{colour}"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="{label_x}" y="14">{LABEL}</text><text x="{value_x}" y="14">{value}</text></g></svg>"##
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn shows_the_figure_in_its_colour() {
        let badge = super::render(Some(98.5));
        assert!(badge.starts_with("<svg"), "{badge}");
        assert!(
            badge.contains("98.5 %") && badge.contains("#97b313"),
            "{badge}"
        );
        assert!(super::render(None).contains("no VODs"));
    }
}
