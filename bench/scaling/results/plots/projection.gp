set terminal pngcairo size 1280,560 noenhanced font "sans,11"
set output "projection.png"
set grid
set key top left box opaque
set multiplot layout 1,2 title "PROJECTION: performance model calibrated on this machine (not measured)"
set title "strong scaling: speedup over 96 cores"
set logscale xy 2
set xlabel "cores (one rank per core)"
set ylabel "speedup vs 96 cores"
set xrange [80:15000]
set yrange [0.25:200]
set key top left font ",9"
plot x/96 with lines dt 2 lc "black" title "ideal (128x at 12,288)", \
     "projection.dat" index 0 using 1:2 with linespoints lw 2 pt 7 title "model: cadata", \
     "projection.dat" index 1 using 1:2 with linespoints lw 2 pt 7 title "model: Gas Sensor", \
     "projection.dat" index 2 using 1:2 with linespoints lw 2 pt 7 title "model: blobs (measured n)", \
     "paper.dat" index 0 using 1:2 with linespoints dt 3 lw 2 pt 5 ps 1.5 title "paper, cadata (measured 96 -> 12,288: 1.59x)", \
     "paper.dat" index 1 using 1:2 with linespoints dt 3 lw 2 pt 5 ps 1.5 title "paper, Gas Sensor (measured 96 -> 12,288: 7.92x)"
unset logscale y
set title "weak scaling: efficiency against 96 cores"
set ylabel "efficiency (1 = ideal)"
set yrange [0:1.2]
set key bottom left
plot 1 with lines dt 2 lc "black" title "ideal", "projection-weak.dat" using 1:2 with linespoints lw 2 pt 7 title "model: blobs n0=200000 per core"
unset multiplot
